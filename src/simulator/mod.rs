//! Built-in simulated workflow engine (AGNT5 and Lyzr protocols).
