use super::*;
use axum::body::Body;
use axum::http::Request;
use axum::routing::post;
use tower::ServiceExt;

fn app(token: Option<&str>) -> (Router, Readiness) {
    let readiness = Readiness::new();
    let state = AdminState {
        metrics: Metrics::new().expect("metrics"),
        readiness: readiness.clone(),
    };
    let v1 = Router::new().route(
        "/echo",
        post(|body: String| async move { body.len().to_string() }),
    );
    (router(state, v1, token.map(Secret::new)), readiness)
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn health_and_metrics() {
    let (app, _) = app(None);
    assert_eq!(call(&app, get("/healthz")).await.0, StatusCode::OK);
    let (status, body) = call(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("eventrelay_build_info"));
}

#[tokio::test]
async fn readiness_follows_latches() {
    let (app, readiness) = app(None);
    let latch = readiness.latch("sink:warehouse", "connecting");
    let (status, body) = call(&app, get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("sink:warehouse") && body.contains("connecting"),
        "{body}"
    );
    latch.ready();
    assert_eq!(call(&app, get("/readyz")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_guards_v1_only() {
    let (app, _) = app(Some("s3cret"));
    let post = |auth: Option<&str>| {
        let mut b = Request::post("/v1/echo");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::from("hi")).expect("request")
    };
    assert_eq!(call(&app, post(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, post(Some("Bearer nope"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = call(&app, post(Some("Bearer s3cret"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "2"));
    assert_eq!(call(&app, get("/healthz")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bodies_over_one_mib_are_refused() {
    let (app, _) = app(None);
    let big = vec![b'x'; MAX_BODY + 1];
    let req = Request::post("/v1/echo")
        .body(Body::from(big))
        .expect("request");
    assert_eq!(call(&app, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}
