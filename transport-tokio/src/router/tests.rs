use super::*;
use crate::handle::{Command, ConnectionId, Overflow};
use serde_json::json;
use tokio::sync::mpsc;

struct Client {
    conn: ConnectionContext<Arc<str>>,
    rx: mpsc::Receiver<Command>,
}

fn client(claims: Value) -> Client {
    let Value::Object(claims) = claims else {
        panic!("claims must be an object");
    };
    let identity = Identity::new("HS256", None, claims);
    let (tx, rx) = mpsc::channel(8);
    let handle = ConnectionHandle::new(
        ConnectionId::next(),
        identity.sub_arc(),
        tx,
        Arc::new(Overflow::default()),
    );
    Client {
        conn: ConnectionContext::new(Arc::new(identity), handle, Arc::from("state")),
        rx,
    }
}

fn reply(rx: &mut mpsc::Receiver<Command>) -> Option<Value> {
    match rx.try_recv() {
        Ok(Command::Send(Message::Text(text))) => Some(serde_json::from_str(&text).unwrap()),
        Ok(other) => panic!("expected a text reply, got {other:?}"),
        Err(_) => None,
    }
}

fn error(code: &str) -> Value {
    json!({"event": "error", "data": {"code": code}})
}

fn admin_router() -> Router<Arc<str>> {
    Router::new()
        .on("ping", |_ctx| async { Ok(Some(json!("pong"))) })
        .on_with_roles("ban", &["admin", "moderator"], |ctx| async move {
            Ok(Some(json!({"banned": ctx.data, "by": ctx.sub()})))
        })
}

#[tokio::test]
async fn role_guarded_handler_runs_for_an_admin() {
    let mut c = client(json!({"sub": "root", "role": "admin"}));
    let outcome = admin_router()
        .dispatch(&c.conn, r#"{"event":"ban","data":"mallory"}"#)
        .await;
    assert_eq!(outcome, Dispatch::Handled { acked: true });
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "ban:ack", "data": {"banned": "mallory", "by": "root"}}))
    );
}

#[tokio::test]
async fn role_guarded_handler_refuses_a_user_with_forbidden() {
    let mut c = client(json!({"sub": "joe", "role": "user"}));
    let outcome = admin_router()
        .dispatch(&c.conn, r#"{"event":"ban","data":"mallory"}"#)
        .await;
    assert_eq!(outcome, Dispatch::Forbidden);
    assert_eq!(reply(&mut c.rx), Some(error("forbidden")));
    assert_eq!(reply(&mut c.rx), None, "the handler did not run");
}

#[tokio::test]
async fn a_token_without_the_role_claim_is_forbidden() {
    let mut c = client(json!({"sub": "joe"}));
    let outcome = admin_router().dispatch(&c.conn, r#"{"event":"ban"}"#).await;
    assert_eq!(outcome, Dispatch::Forbidden);
    assert_eq!(reply(&mut c.rx), Some(error("forbidden")));
}

#[tokio::test]
async fn role_claim_may_be_a_string_a_space_separated_string_or_an_array() {
    let router = admin_router();
    for (roles, allowed) in [
        (json!("moderator"), true),
        (json!("user moderator"), true),
        (json!(["user", "admin"]), true),
        (json!("user"), false),
        (json!("user superadmin"), false),
        (json!(["user", "administrator"]), false),
        (json!(["admin moderator"]), false),
        (json!(7), false),
    ] {
        let mut c = client(json!({"sub": "x", "role": roles}));
        let outcome = router.dispatch(&c.conn, r#"{"event":"ban"}"#).await;
        let expected = if allowed {
            Dispatch::Handled { acked: true }
        } else {
            Dispatch::Forbidden
        };
        assert_eq!(outcome, expected, "roles {roles}");
        let event = reply(&mut c.rx).unwrap()["event"].clone();
        assert_eq!(event, if allowed { "ban:ack" } else { "error" });
    }
}

#[tokio::test]
async fn role_claim_name_is_configurable() {
    let router = admin_router().role_claim("roles");
    let mut by_roles = client(json!({"sub": "a", "roles": ["admin"]}));
    let mut by_role = client(json!({"sub": "b", "role": "admin"}));
    assert_eq!(
        router.dispatch(&by_roles.conn, r#"{"event":"ban"}"#).await,
        Dispatch::Handled { acked: true }
    );
    assert_eq!(
        router.dispatch(&by_role.conn, r#"{"event":"ban"}"#).await,
        Dispatch::Forbidden,
        "the default claim is no longer read"
    );
    assert_eq!(reply(&mut by_roles.rx).unwrap()["event"], "ban:ack");
    assert_eq!(reply(&mut by_role.rx), Some(error("forbidden")));
}

#[tokio::test]
async fn unknown_event_gets_unknown_event() {
    let mut c = client(json!({"sub": "joe"}));
    let outcome = admin_router()
        .dispatch(&c.conn, r#"{"event":"nope","data":1}"#)
        .await;
    assert_eq!(outcome, Dispatch::UnknownEvent);
    assert_eq!(reply(&mut c.rx), Some(error("unknown_event")));
}

#[tokio::test]
async fn malformed_messages_get_invalid_message() {
    let router = admin_router();
    for text in [
        "",
        "not json",
        r#"{"event":"ping""#,
        r#"["ping"]"#,
        r#""ping""#,
        "null",
        r#"{"data":1}"#,
        r#"{"event":1}"#,
        r#"{"event":null}"#,
        r#"{"event":"ping","id":{}}"#,
        r#"{"event":"ping","id":[1]}"#,
        r#"{"event":"ping"} trailing"#,
    ] {
        let mut c = client(json!({"sub": "joe"}));
        assert_eq!(
            router.dispatch(&c.conn, text).await,
            Dispatch::InvalidMessage,
            "{text:?}"
        );
        assert_eq!(reply(&mut c.rx), Some(error("invalid_message")), "{text:?}");
    }
}

#[tokio::test]
async fn handler_error_gives_the_client_only_the_stable_code() {
    let router: Router = Router::new().on("save", |_ctx| async {
        Err(EventError::internal(
            "connection to db.internal:5432 refused (password=hunter2)",
        ))
    });
    let mut c = client(json!({"sub": "joe"}));
    let c2 = ConnectionContext::new(c.conn.identity.clone(), c.conn.handle.clone(), ());
    let outcome = router
        .dispatch(&c2, r#"{"event":"save","data":{},"id":"r1"}"#)
        .await;
    assert_eq!(
        outcome,
        Dispatch::Failed {
            code: "internal_error"
        }
    );
    let Some(Command::Send(Message::Text(text))) = c.rx.try_recv().ok() else {
        panic!("expected an error reply");
    };
    assert_eq!(
        &*text,
        r#"{"event":"error","data":{"code":"internal_error"},"id":"r1"}"#
    );
}

#[tokio::test]
async fn custom_error_codes_and_invalid_data_reach_the_client() {
    let router: Router = Router::new()
        .on("find", |_ctx| async { Err(EventError::new("not_found")) })
        .on("add", |ctx| async move {
            let [a, b]: [i64; 2] = ctx.parse_data()?;
            Ok(Some(json!(a + b)))
        });
    let mut c = client(json!({"sub": "joe"}));
    let conn = ConnectionContext::new(c.conn.identity.clone(), c.conn.handle.clone(), ());
    assert_eq!(
        router.dispatch(&conn, r#"{"event":"find"}"#).await,
        Dispatch::Failed { code: "not_found" }
    );
    assert_eq!(reply(&mut c.rx), Some(error("not_found")));
    assert_eq!(
        router
            .dispatch(&conn, r#"{"event":"add","data":"two"}"#)
            .await,
        Dispatch::Failed {
            code: "invalid_data"
        }
    );
    assert_eq!(reply(&mut c.rx), Some(error("invalid_data")));
    assert_eq!(
        router
            .dispatch(&conn, r#"{"event":"add","data":[2,40],"id":9}"#)
            .await,
        Dispatch::Handled { acked: true }
    );
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "add:ack", "data": 42, "id": 9}))
    );
}

#[tokio::test]
async fn binary_messages_get_invalid_message_and_text_messages_are_dispatched() {
    let router = admin_router();
    let mut c = client(json!({"sub": "joe"}));
    let binary = Message::binary(&br#"{"event":"ping"}"#[..]);
    assert_eq!(
        router.dispatch_message(&c.conn, &binary).await,
        Dispatch::InvalidMessage
    );
    assert_eq!(reply(&mut c.rx), Some(error("invalid_message")));
    let text = Message::text(r#"{"event":"ping"}"#);
    assert_eq!(
        router.dispatch_message(&c.conn, &text).await,
        Dispatch::Handled { acked: true }
    );
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "ping:ack", "data": "pong"}))
    );
}

#[tokio::test]
async fn a_handler_returning_none_sends_no_reply() {
    let router: Router = Router::new().on("fire", |_ctx| async { Ok(None) });
    let mut c = client(json!({"sub": "joe"}));
    let conn = ConnectionContext::new(c.conn.identity.clone(), c.conn.handle.clone(), ());
    assert_eq!(
        router.dispatch(&conn, r#"{"event":"fire"}"#).await,
        Dispatch::Handled { acked: false }
    );
    assert_eq!(reply(&mut c.rx), None);
}

#[tokio::test]
async fn ids_are_echoed_on_errors() {
    let mut c = client(json!({"sub": "joe"}));
    admin_router()
        .dispatch(&c.conn, r#"{"event":"nope","id":3}"#)
        .await;
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "error", "data": {"code": "unknown_event"}, "id": 3}))
    );
    admin_router()
        .dispatch(&c.conn, r#"{"event":"ban","id":"x"}"#)
        .await;
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "error", "data": {"code": "forbidden"}, "id": "x"}))
    );
}

#[tokio::test]
async fn handlers_see_state_identity_event_and_sessions() {
    let sessions = Sessions::new();
    let router = Router::new().on("whoami", |ctx: EventContext<Arc<str>>| async move {
        let registered = ctx
            .sessions
            .as_ref()
            .is_some_and(|s| s.is_connected(ctx.sub().unwrap_or_default()));
        Ok(Some(json!({
            "state": &*ctx.state,
            "sub": ctx.sub(),
            "event": &*ctx.event,
            "registered": registered,
            "data": ctx.data,
        })))
    });
    let mut c = client(json!({"sub": "alice"}));
    let _registration = sessions.register(c.conn.handle.clone());
    let conn = c.conn.clone().with_sessions(sessions);
    router
        .dispatch(&conn, r#"{"event":"whoami","data":null}"#)
        .await;
    assert_eq!(
        reply(&mut c.rx),
        Some(json!({"event": "whoami:ack", "data": {
            "state": "state", "sub": "alice", "event": "whoami",
            "registered": true, "data": null,
        }}))
    );
}

#[tokio::test]
async fn a_handler_can_broadcast_to_a_room_through_sessions() {
    let sessions = Sessions::new();
    let router: Router = Router::new()
        .on("join", |ctx| async move {
            let room: String = ctx.parse_data()?;
            let sessions = ctx.sessions.ok_or(EventError::new("no_sessions"))?;
            sessions.join(&room, ctx.handle.id());
            Ok(Some(json!(room)))
        })
        .on("say", |ctx| async move {
            let sessions = ctx.sessions.ok_or(EventError::new("no_sessions"))?;
            let message = event_message(
                "said",
                json!({"from": ctx.identity.sub(), "text": ctx.data}),
            );
            let reached = sessions.broadcast_to_room_except("lobby", message, ctx.handle.id());
            Ok(Some(json!(reached)))
        });
    let mut alice = client(json!({"sub": "alice"}));
    let mut bob = client(json!({"sub": "bob"}));
    let _ra = sessions.register(alice.conn.handle.clone());
    let _rb = sessions.register(bob.conn.handle.clone());
    let a = ConnectionContext::new(alice.conn.identity.clone(), alice.conn.handle.clone(), ())
        .with_sessions(sessions.clone());
    let b = ConnectionContext::new(bob.conn.identity.clone(), bob.conn.handle.clone(), ())
        .with_sessions(sessions.clone());
    router
        .dispatch(&a, r#"{"event":"join","data":"lobby"}"#)
        .await;
    router
        .dispatch(&b, r#"{"event":"join","data":"lobby"}"#)
        .await;
    assert_eq!(reply(&mut alice.rx).unwrap()["event"], "join:ack");
    assert_eq!(reply(&mut bob.rx).unwrap()["event"], "join:ack");
    router.dispatch(&a, r#"{"event":"say","data":"hi"}"#).await;
    assert_eq!(
        reply(&mut bob.rx),
        Some(json!({"event": "said", "data": {"from": "alice", "text": "hi"}}))
    );
    assert_eq!(
        reply(&mut alice.rx),
        Some(json!({"event": "say:ack", "data": 1}))
    );
    assert_eq!(reply(&mut alice.rx), None, "the sender is not echoed");
}

#[tokio::test]
async fn a_later_handler_for_the_same_event_replaces_the_earlier() {
    let router: Router = Router::new()
        .on("v", |_ctx| async { Ok(Some(json!(1))) })
        .on("v", |_ctx| async { Ok(Some(json!(2))) });
    let mut c = client(json!({"sub": "joe"}));
    let conn = ConnectionContext::new(c.conn.identity.clone(), c.conn.handle.clone(), ());
    router.dispatch(&conn, r#"{"event":"v"}"#).await;
    assert_eq!(reply(&mut c.rx).unwrap()["data"], 2);
    assert!(router.handles("v"));
    assert!(!router.handles("w"));
}

#[test]
fn long_event_names_are_shortened_in_logs() {
    let long = "é".repeat(100);
    let shown = Shortened(&long).to_string();
    assert_eq!(shown.chars().filter(|c| *c == 'é').count(), 64);
    assert!(shown.ends_with('…'));
    assert_eq!(Shortened("ping").to_string(), "\"ping\"");
}

#[test]
fn event_error_display_includes_the_source_for_logs() {
    let error = EventError::with_source("not_found", "row 17 missing");
    assert_eq!(error.code(), "not_found");
    assert_eq!(error.to_string(), "not_found: row 17 missing");
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(EventError::new("busy").to_string(), "busy");
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn router_types_and_the_dispatch_future_can_cross_tasks() {
    assert_send_sync::<Router>();
    assert_send_sync::<ConnectionContext>();
    assert_send_sync::<EventContext>();
    assert_send_sync::<EventError>();
    assert_send_sync::<Sessions>();
    assert_send_sync::<crate::sessions::Registration>();
    // Async closures (Rust 2024) are handlers too.
    let router: Router = Router::new().on("x", async |ctx: EventContext| Ok(Some(ctx.data)));
    let c = client(json!({}));
    let conn = ConnectionContext::new(c.conn.identity.clone(), c.conn.handle.clone(), ());
    let dispatch = router.dispatch(&conn, "{}");
    assert_send(&dispatch);
}
