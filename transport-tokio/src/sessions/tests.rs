use super::*;
use crate::handle::{Command, Overflow};
use tokio::sync::mpsc;

struct Client {
    handle: ConnectionHandle,
    rx: mpsc::Receiver<Command>,
    overflow: Arc<Overflow>,
}

fn client(sub: Option<&str>, capacity: usize) -> Client {
    let (tx, rx) = mpsc::channel(capacity);
    let overflow = Arc::new(Overflow::default());
    let handle = ConnectionHandle::new(
        ConnectionId::next(),
        sub.map(Arc::from),
        tx,
        overflow.clone(),
    );
    Client {
        handle,
        rx,
        overflow,
    }
}

fn user(sub: &str) -> Client {
    client(Some(sub), 16)
}

fn text(rx: &mut mpsc::Receiver<Command>) -> Option<String> {
    match rx.try_recv() {
        Ok(Command::Send(Message::Text(text))) => Some(text.to_string()),
        _ => None,
    }
}

fn assert_registry_empty(sessions: &Sessions) {
    assert_eq!(sessions.connection_count(), 0);
    assert_eq!(sessions.user_count(), 0);
    assert_eq!(sessions.room_count(), 0);
    let registry = sessions.read();
    assert!(registry.connections.is_empty());
    assert!(registry.users.is_empty());
    assert!(registry.rooms.is_empty());
}

#[test]
fn ten_thousand_register_drop_cycles_leave_nothing_behind() {
    let sessions = Sessions::new();
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
    let rooms = ["general", "random", "ops", "dev", "help"];
    let mut alive = Vec::new();
    for i in 0..10_000_usize {
        let sub = users.get(i % users.len()).copied();
        let sub = if i % 11 == 0 { None } else { sub };
        let c = client(sub, 4);
        let registration = sessions.register(c.handle);
        assert!(registration.join(rooms[i % rooms.len()]));
        assert!(registration.join(rooms[(i * 7 + 3) % rooms.len()]));
        if i % 3 == 0 {
            assert!(registration.leave(rooms[i % rooms.len()]));
        }
        // Keep a few alive at once so that drops interleave across users and rooms.
        alive.push((registration, c.rx));
        if alive.len() > 13 {
            drop(alive.remove((i * 5) % alive.len()));
        }
    }
    assert!(sessions.connection_count() > 0);
    drop(alive);
    assert_registry_empty(&sessions);
}

#[test]
fn send_to_user_reaches_every_connection_of_that_user_only() {
    let sessions = Sessions::new();
    let mut a1 = user("alice");
    let mut a2 = user("alice");
    let mut b = user("bob");
    let _r = [
        sessions.register(a1.handle.clone()),
        sessions.register(a2.handle.clone()),
        sessions.register(b.handle.clone()),
    ];
    assert_eq!(sessions.send_to_user("alice", Message::text("hi")), 2);
    assert_eq!(text(&mut a1.rx).as_deref(), Some("hi"));
    assert_eq!(text(&mut a2.rx).as_deref(), Some("hi"));
    assert_eq!(text(&mut b.rx), None);
    assert_eq!(sessions.send_to_user("nobody", Message::text("hi")), 0);
}

#[test]
fn send_to_user_does_not_count_ended_connections() {
    let sessions = Sessions::new();
    let a1 = user("alice");
    let mut a2 = user("alice");
    let _r = [
        sessions.register(a1.handle.clone()),
        sessions.register(a2.handle.clone()),
    ];
    drop(a1.rx);
    assert_eq!(sessions.send_to_user("alice", Message::text("hi")), 1);
    assert_eq!(text(&mut a2.rx).as_deref(), Some("hi"));
}

#[test]
fn user_queries_follow_registrations() {
    let sessions = Sessions::new();
    let a1 = user("alice");
    let a2 = user("alice");
    let anonymous = client(None, 4);
    let r1 = sessions.register(a1.handle.clone());
    let r2 = sessions.register(a2.handle.clone());
    let r3 = sessions.register(anonymous.handle.clone());
    assert!(sessions.is_connected("alice"));
    assert!(!sessions.is_connected("bob"));
    assert_eq!(sessions.user_count(), 1);
    assert_eq!(sessions.connection_count(), 3);
    assert_eq!(sessions.users(), vec![Arc::<str>::from("alice")]);
    let ids: Vec<_> = sessions
        .connections_of("alice")
        .iter()
        .map(ConnectionHandle::id)
        .collect();
    assert_eq!(ids, vec![r1.id(), r2.id()]);
    assert_eq!(sessions.connection(r3.id()).map(|h| h.id()), Some(r3.id()));
    drop(r1);
    assert!(sessions.is_connected("alice"));
    drop(r2);
    assert!(!sessions.is_connected("alice"));
    assert!(sessions.connections_of("alice").is_empty());
    drop(r3);
    assert_registry_empty(&sessions);
}

#[test]
fn kick_closes_every_connection_of_the_user_with_1008_and_the_reason() {
    let sessions = Sessions::new();
    let mut a1 = user("alice");
    let mut a2 = user("alice");
    let mut b = user("bob");
    let _r = [
        sessions.register(a1.handle.clone()),
        sessions.register(a2.handle.clone()),
        sessions.register(b.handle.clone()),
    ];
    assert_eq!(sessions.kick("alice", "account_disabled"), 2);
    for rx in [&mut a1.rx, &mut a2.rx] {
        assert_eq!(
            rx.try_recv().unwrap(),
            Command::Close {
                code: 1008,
                reason: "account_disabled".into()
            }
        );
    }
    assert!(b.rx.try_recv().is_err());
    assert_eq!(sessions.kick("nobody", "x"), 0);
}

#[test]
fn kick_reason_is_cut_to_123_bytes_on_a_char_boundary() {
    let sessions = Sessions::new();
    let mut a = user("alice");
    let _r = sessions.register(a.handle.clone());
    let reason = "é".repeat(100);
    assert_eq!(sessions.kick("alice", &reason), 1);
    match a.rx.try_recv().unwrap() {
        Command::Close { reason, .. } => {
            assert_eq!(reason.len(), 122);
            assert!(reason.chars().all(|c| c == 'é'));
        }
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn room_broadcast_reaches_members_only_and_except_skips_the_sender() {
    let sessions = Sessions::new();
    let mut a = user("alice");
    let mut b = user("bob");
    let mut c = user("carol");
    let ra = sessions.register(a.handle.clone());
    let rb = sessions.register(b.handle.clone());
    let _rc = sessions.register(c.handle.clone());
    assert!(ra.join("general"));
    assert!(rb.join("general"));
    assert!(ra.join("general"), "joining twice is harmless");
    assert_eq!(sessions.room_members("general"), vec![ra.id(), rb.id()]);
    assert_eq!(
        sessions.broadcast_to_room("general", Message::text("all")),
        2
    );
    assert_eq!(text(&mut a.rx).as_deref(), Some("all"));
    assert_eq!(text(&mut b.rx).as_deref(), Some("all"));
    assert_eq!(text(&mut c.rx), None);
    assert_eq!(
        sessions.broadcast_to_room_except("general", Message::text("others"), ra.id()),
        1
    );
    assert_eq!(text(&mut a.rx), None);
    assert_eq!(text(&mut b.rx).as_deref(), Some("others"));
    assert_eq!(sessions.broadcast_to_room("empty", Message::text("x")), 0);
}

#[test]
fn emptied_rooms_are_removed() {
    let sessions = Sessions::new();
    let a = user("alice");
    let b = user("bob");
    let ra = sessions.register(a.handle.clone());
    let rb = sessions.register(b.handle.clone());
    ra.join("general");
    rb.join("general");
    ra.join("private");
    assert_eq!(sessions.room_count(), 2);
    let mut rooms = sessions.rooms_of(ra.id());
    rooms.sort();
    assert_eq!(rooms, vec![Arc::from("general"), Arc::from("private")]);
    assert!(ra.leave("private"));
    assert!(!ra.leave("private"), "leaving twice reports non-membership");
    assert_eq!(sessions.room_count(), 1);
    assert_eq!(sessions.rooms(), vec![Arc::<str>::from("general")]);
    drop(ra);
    assert_eq!(sessions.room_members("general"), vec![rb.id()]);
    drop(rb);
    assert_registry_empty(&sessions);
}

#[test]
fn joining_requires_a_registered_connection() {
    let sessions = Sessions::new();
    let a = user("alice");
    assert!(!sessions.join("general", a.handle.id()));
    assert!(!sessions.leave("general", a.handle.id()));
    assert_registry_empty(&sessions);
}

#[test]
fn a_full_queue_does_not_stop_delivery_to_others() {
    let sessions = Sessions::new();
    let slow = client(Some("slow"), 1);
    let mut fast: Vec<Client> = (0..5).map(|_| user("fast")).collect();
    let _rs = sessions.register(slow.handle.clone());
    let _rf: Vec<_> = fast
        .iter()
        .map(|c| sessions.register(c.handle.clone()))
        .collect();
    slow.handle.send(Message::text("fills the queue")).unwrap();
    assert_eq!(sessions.broadcast(Message::text("news")), 5);
    assert!(slow.overflow.is_raised(), "the slow consumer is flagged");
    for c in &mut fast {
        assert_eq!(text(&mut c.rx).as_deref(), Some("news"));
        assert!(!c.overflow.is_raised());
    }
}

#[test]
fn send_to_reaches_one_connection_and_reports_unknown_ids_as_closed() {
    let sessions = Sessions::new();
    let mut a = user("alice");
    let r = sessions.register(a.handle.clone());
    sessions
        .send_to(r.id(), Message::binary(&b"\x01\x02"[..]))
        .unwrap();
    assert_eq!(
        a.rx.try_recv().unwrap(),
        Command::Send(Message::binary(&b"\x01\x02"[..]))
    );
    let id = r.id();
    drop(r);
    assert_eq!(
        sessions.send_to(id, Message::text("late")),
        Err(SendError::Closed)
    );
}

#[test]
fn a_stale_registration_does_not_remove_its_replacement() {
    let sessions = Sessions::new();
    let a = user("alice");
    let first = sessions.register(a.handle.clone());
    first.join("general");
    let second = sessions.register(a.handle.clone());
    assert_eq!(sessions.connection_count(), 1);
    assert!(
        sessions.rooms_of(second.id()).is_empty(),
        "memberships reset"
    );
    assert_eq!(sessions.room_count(), 0);
    drop(first);
    assert!(sessions.is_connected("alice"));
    assert_eq!(sessions.connection_count(), 1);
    drop(second);
    assert_registry_empty(&sessions);
}

#[test]
fn a_poisoned_lock_is_recovered() {
    let sessions = Sessions::new();
    let a = user("alice");
    let r = sessions.register(a.handle.clone());
    let poisoner = sessions.clone();
    let result = std::thread::spawn(move || {
        let _guard = poisoner.inner.write().unwrap();
        panic!("poison the registry lock");
    })
    .join();
    assert!(result.is_err());
    assert!(sessions.inner.is_poisoned());
    assert!(r.join("general"));
    assert_eq!(sessions.broadcast_to_room("general", Message::text("x")), 1);
    drop(r);
    assert_registry_empty(&sessions);
}

#[tokio::test]
async fn a_cancelled_connection_task_unregisters() {
    let sessions = Sessions::new();
    let a = user("alice");
    let task_sessions = sessions.clone();
    let handle = a.handle.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let registration = task_sessions.register(handle);
        registration.join("general");
        ready_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    ready_rx.await.unwrap();
    assert!(sessions.is_connected("alice"));
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_registry_empty(&sessions);
}

#[tokio::test]
async fn a_panicking_connection_task_unregisters() {
    let sessions = Sessions::new();
    let a = user("alice");
    let task_sessions = sessions.clone();
    let handle = a.handle.clone();
    let task = tokio::spawn(async move {
        let registration = task_sessions.register(handle);
        registration.join("general");
        panic!("the connection task failed");
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_registry_empty(&sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registration_from_many_tasks() {
    const TASKS: usize = 64;
    const ROUNDS: usize = 100;
    let sessions = Sessions::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
    let release = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let sessions = sessions.clone();
        let barrier = barrier.clone();
        let release = release.clone();
        tasks.push(tokio::spawn(async move {
            let sub = format!("user{}", t % 8);
            let room = format!("room{}", t % 4);
            for round in 0..ROUNDS {
                let mut c = client(Some(&sub), 4);
                let r = sessions.register(c.handle.clone());
                r.join(&room);
                sessions.broadcast_to_room(&room, Message::text("x"));
                sessions.send_to_user(&sub, Message::text("y"));
                while c.rx.try_recv().is_ok() {}
                if round % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            // One connection per task stays registered until every task is done.
            let c = client(Some(&sub), 4);
            let r = sessions.register(c.handle.clone());
            r.join(&room);
            barrier.wait().await;
            release.wait().await;
            drop(r);
        }));
    }
    barrier.wait().await;
    assert_eq!(sessions.connection_count(), TASKS);
    assert_eq!(sessions.user_count(), 8);
    assert_eq!(sessions.room_count(), 4);
    assert_eq!(sessions.room_members("room0").len(), TASKS / 4);
    release.wait().await;
    for task in tasks {
        task.await.unwrap();
    }
    assert_registry_empty(&sessions);
}
