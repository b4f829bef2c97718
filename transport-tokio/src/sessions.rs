//! The sessions registry: who is connected, per-user delivery, named rooms and kicking.
//!
//! [`Sessions`] is a cloneable handle on one shared registry of live connections, keyed by
//! the `sub` of each connection's verified token (a user may hold several connections: tabs,
//! devices) and grouped into named rooms. It is what the socket.io tutorials build by hand
//! with `socket.join(userId)`: message one user everywhere they are connected, broadcast to
//! a channel, kick a user whose account was disabled.
//!
//! The connection task registers its [`ConnectionHandle`] and keeps the returned
//! [`Registration`] for as long as the connection lives. Dropping the registration removes
//! the connection from the user map and from every room, so every way a connection ends
//! (a clean close, an error, the task being cancelled or panicking) cleans up after itself.
//!
//! Delivery never waits: every send is [`ConnectionHandle::send`], which queues without
//! blocking. A client that does not read fast enough overflows its own bounded queue and is
//! closed as a slow consumer; the others still get the message. The registry's lock is only
//! ever held for map updates and these non-blocking sends, never across an `.await`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tollgate_tokio::handle::Overflow;
//! use tollgate_tokio::{Command, ConnectionHandle, ConnectionId, Message, Sessions};
//! use tokio::sync::mpsc;
//!
//! // What the server does for every authenticated connection.
//! fn connect(sub: &str) -> (ConnectionHandle, mpsc::Receiver<Command>) {
//!     let (tx, rx) = mpsc::channel(16);
//!     let handle =
//!         ConnectionHandle::new(ConnectionId::next(), Some(sub.into()), tx, Arc::new(Overflow::default()));
//!     (handle, rx)
//! }
//!
//! let sessions = Sessions::new();
//! let (phone, mut phone_rx) = connect("alice");
//! let (laptop, mut laptop_rx) = connect("alice");
//! let (bob, mut bob_rx) = connect("bob");
//! let phone = sessions.register(phone);
//! let laptop = sessions.register(laptop);
//! let bob = sessions.register(bob);
//!
//! // Alice is reached on both her connections, Bob on none.
//! assert_eq!(sessions.send_to_user("alice", Message::text("hi alice")), 2);
//! assert_eq!(phone_rx.try_recv().unwrap(), Command::Send(Message::text("hi alice")));
//! assert_eq!(laptop_rx.try_recv().unwrap(), Command::Send(Message::text("hi alice")));
//! assert!(bob_rx.try_recv().is_err());
//!
//! // Rooms.
//! laptop.join("general");
//! bob.join("general");
//! assert_eq!(sessions.broadcast_to_room("general", Message::text("hello room")), 2);
//! assert_eq!(bob_rx.try_recv().unwrap(), Command::Send(Message::text("hello room")));
//!
//! // Kicking closes every connection of the user with 1008 and the reason.
//! assert_eq!(sessions.kick("alice", "account_disabled"), 2);
//! assert_eq!(
//!     phone_rx.try_recv().unwrap(),
//!     Command::Close { code: 1008, reason: "account_disabled".into() },
//! );
//!
//! // The connection tasks end and drop their registrations: nothing is left behind.
//! drop((phone, laptop));
//! assert!(!sessions.is_connected("alice"));
//! assert_eq!(sessions.room_members("general"), vec![bob.id()]);
//! drop(bob);
//! assert_eq!((sessions.connection_count(), sessions.user_count(), sessions.room_count()), (0, 0, 0));
//! ```

use std::collections::HashSet;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::handle::{ConnectionHandle, ConnectionId, Message, SendError};

/// The close code [`Sessions::kick`] sends: 1008, policy violation.
pub const KICK_CLOSE_CODE: u16 = 1008;

/// The longest close reason a close frame carries (125-byte control payload minus the code).
const MAX_CLOSE_REASON: usize = 123;

/// A shared registry of live connections, by user and by room. Cloning is cheap and every
/// clone sees the same registry.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<RwLock<Registry>>,
}

/// The maps behind the lock. Each connection lists its own rooms so that removing it
/// touches only those rooms, never a scan of all of them.
#[derive(Default)]
struct Registry {
    connections: HashMap<ConnectionId, Connection>,
    users: HashMap<Arc<str>, HashSet<ConnectionId>>,
    rooms: HashMap<Arc<str>, HashSet<ConnectionId>>,
    /// Registrations are numbered so that a stale guard for a re-registered id cannot
    /// remove its successor.
    last_ticket: u64,
}

struct Connection {
    handle: ConnectionHandle,
    sub: Option<Arc<str>>,
    rooms: HashSet<Arc<str>>,
    ticket: u64,
}

impl Sessions {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a live connection under the `sub` its handle carries (a connection without
    /// a `sub` is registered too and can join rooms, but belongs to no user).
    ///
    /// Keep the returned [`Registration`] for the life of the connection: dropping it
    /// unregisters the connection. Registering an id that is already registered replaces
    /// the earlier entry (and its room memberships); the earlier guard then does nothing.
    pub fn register(&self, handle: ConnectionHandle) -> Registration {
        let id = handle.id();
        let mut registry = self.write();
        let ticket = registry.last_ticket.wrapping_add(1);
        registry.last_ticket = ticket;
        let replaced = registry.connections.remove(&id);
        if let Some(replaced) = &replaced {
            registry.detach(id, replaced);
        }
        let sub = handle.sub().map(|sub| registry.attach_user(sub, id));
        registry.connections.insert(
            id,
            Connection {
                handle,
                sub,
                rooms: HashSet::new(),
                ticket,
            },
        );
        drop(registry);
        // The replaced handle (if any) is dropped here, outside the lock.
        drop(replaced);
        Registration {
            sessions: self.clone(),
            id,
            ticket,
        }
    }

    /// Queue `message` on every connection of user `sub`; returns how many accepted it.
    pub fn send_to_user(&self, sub: &str, message: Message) -> usize {
        let registry = self.read();
        registry.users.get(sub).map_or(0, |ids| {
            registry.send_each(ids.iter().copied(), |handle| handle.send(message.clone()))
        })
    }

    /// Queue `message` on one connection.
    ///
    /// # Errors
    /// [`SendError::Closed`] when the connection is not registered (or has ended);
    /// [`SendError::Overflowed`] when its queue is full (it is then closed as a slow
    /// consumer).
    pub fn send_to(&self, id: ConnectionId, message: Message) -> Result<(), SendError> {
        let registry = self.read();
        match registry.connections.get(&id) {
            Some(connection) => connection.handle.send(message),
            None => Err(SendError::Closed),
        }
    }

    /// Queue `message` on every registered connection; returns how many accepted it.
    pub fn broadcast(&self, message: Message) -> usize {
        let registry = self.read();
        registry
            .connections
            .values()
            .filter(|connection| connection.handle.send(message.clone()).is_ok())
            .count()
    }

    /// Close every connection of user `sub` with code 1008 and `reason` (a stable code such
    /// as `account_disabled`; cut to the 123 bytes a close frame holds). Returns how many
    /// connections accepted the close. Each connection leaves the registry when its task
    /// ends and drops its [`Registration`].
    pub fn kick(&self, sub: &str, reason: &str) -> usize {
        let reason = truncate_close_reason(reason);
        let registry = self.read();
        registry.users.get(sub).map_or(0, |ids| {
            registry.send_each(ids.iter().copied(), |handle| {
                handle.close(KICK_CLOSE_CODE, reason)
            })
        })
    }

    /// Whether user `sub` has at least one registered connection.
    #[must_use]
    pub fn is_connected(&self, sub: &str) -> bool {
        self.read().users.contains_key(sub)
    }

    /// The handles of every registered connection of user `sub`, oldest id first.
    #[must_use]
    pub fn connections_of(&self, sub: &str) -> Vec<ConnectionHandle> {
        let registry = self.read();
        let mut handles: Vec<ConnectionHandle> = registry
            .users
            .get(sub)
            .into_iter()
            .flatten()
            .filter_map(|id| registry.connections.get(id))
            .map(|connection| connection.handle.clone())
            .collect();
        handles.sort_by_key(ConnectionHandle::id);
        handles
    }

    /// The handle of one registered connection.
    #[must_use]
    pub fn connection(&self, id: ConnectionId) -> Option<ConnectionHandle> {
        self.read()
            .connections
            .get(&id)
            .map(|connection| connection.handle.clone())
    }

    /// The users with at least one registered connection, in no particular order.
    #[must_use]
    pub fn users(&self) -> Vec<Arc<str>> {
        self.read().users.keys().cloned().collect()
    }

    /// How many users have at least one registered connection.
    #[must_use]
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// How many connections are registered (with or without a user).
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// Add connection `id` to `room` (created on first join). Returns `false` when the
    /// connection is not registered; joining a room twice is harmless.
    pub fn join(&self, room: &str, id: ConnectionId) -> bool {
        let mut registry = self.write();
        let Registry {
            connections, rooms, ..
        } = &mut *registry;
        let Some(connection) = connections.get_mut(&id) else {
            return false;
        };
        if connection.rooms.contains(room) {
            return true;
        }
        let name = shared_name(rooms, room);
        rooms.entry(Arc::clone(&name)).or_default().insert(id);
        connection.rooms.insert(name);
        true
    }

    /// Remove connection `id` from `room`; an emptied room is removed. Returns whether the
    /// connection was a member.
    pub fn leave(&self, room: &str, id: ConnectionId) -> bool {
        let mut registry = self.write();
        let Some(connection) = registry.connections.get_mut(&id) else {
            return false;
        };
        if !connection.rooms.remove(room) {
            return false;
        }
        registry.remove_from_room(room, id);
        true
    }

    /// Queue `message` on every member of `room`; returns how many accepted it.
    pub fn broadcast_to_room(&self, room: &str, message: Message) -> usize {
        let registry = self.read();
        registry.rooms.get(room).map_or(0, |ids| {
            registry.send_each(ids.iter().copied(), |handle| handle.send(message.clone()))
        })
    }

    /// Queue `message` on every member of `room` but `except` (typically the sender);
    /// returns how many accepted it.
    pub fn broadcast_to_room_except(
        &self,
        room: &str,
        message: Message,
        except: ConnectionId,
    ) -> usize {
        let registry = self.read();
        registry.rooms.get(room).map_or(0, |ids| {
            registry.send_each(ids.iter().copied().filter(|id| *id != except), |handle| {
                handle.send(message.clone())
            })
        })
    }

    /// The members of `room`, oldest id first (empty when the room does not exist).
    #[must_use]
    pub fn room_members(&self, room: &str) -> Vec<ConnectionId> {
        let mut members: Vec<ConnectionId> = self
            .read()
            .rooms
            .get(room)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        members.sort_unstable();
        members
    }

    /// The rooms connection `id` is in, in no particular order.
    #[must_use]
    pub fn rooms_of(&self, id: ConnectionId) -> Vec<Arc<str>> {
        self.read()
            .connections
            .get(&id)
            .map(|connection| connection.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The rooms with at least one member, in no particular order.
    #[must_use]
    pub fn rooms(&self) -> Vec<Arc<str>> {
        self.read().rooms.keys().cloned().collect()
    }

    /// How many rooms have at least one member.
    #[must_use]
    pub fn room_count(&self) -> usize {
        self.read().rooms.len()
    }

    /// Remove the connection registered under `ticket`, unless it was re-registered since.
    fn unregister(&self, id: ConnectionId, ticket: u64) {
        let mut registry = self.write();
        let removed = match registry.connections.entry(id) {
            Entry::Occupied(entry) if entry.get().ticket == ticket => entry.remove(),
            _ => return,
        };
        registry.detach(id, &removed);
        drop(registry);
        // The handle is dropped here, outside the lock.
        drop(removed);
    }

    // Every critical section leaves the maps consistent before anything that could panic
    // (nothing in them calls user code), so a poisoned lock still guards valid maps and
    // recovering it is sound; it keeps one panicking task from breaking every connection.
    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registry {
    /// Add `id` to user `sub`, returning the user's shared name.
    fn attach_user(&mut self, sub: &str, id: ConnectionId) -> Arc<str> {
        let name = shared_name(&self.users, sub);
        self.users.entry(Arc::clone(&name)).or_default().insert(id);
        name
    }

    /// Remove the user and room memberships of a connection already taken out of
    /// `connections`.
    fn detach(&mut self, id: ConnectionId, connection: &Connection) {
        if let Some(sub) = &connection.sub
            && let Some(ids) = self.users.get_mut(sub)
        {
            ids.remove(&id);
            if ids.is_empty() {
                self.users.remove(sub);
            }
        }
        for room in &connection.rooms {
            self.remove_from_room(room, id);
        }
    }

    fn remove_from_room(&mut self, room: &str, id: ConnectionId) {
        if let Some(ids) = self.rooms.get_mut(room) {
            ids.remove(&id);
            if ids.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// Apply a non-blocking `send` to each listed connection; count the successes.
    fn send_each(
        &self,
        ids: impl Iterator<Item = ConnectionId>,
        send: impl Fn(&ConnectionHandle) -> Result<(), SendError>,
    ) -> usize {
        ids.filter_map(|id| self.connections.get(&id))
            .filter(|connection| send(&connection.handle).is_ok())
            .count()
    }
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.read();
        f.debug_struct("Sessions")
            .field("connections", &registry.connections.len())
            .field("users", &registry.users.len())
            .field("rooms", &registry.rooms.len())
            .finish()
    }
}

/// Proof that a connection is registered in a [`Sessions`]; dropping it unregisters the
/// connection (from its user and every room). The connection task holds it for the
/// connection's whole life.
#[must_use = "dropping the Registration unregisters the connection at once"]
#[derive(Debug)]
pub struct Registration {
    sessions: Sessions,
    id: ConnectionId,
    ticket: u64,
}

impl Registration {
    /// The registered connection's id.
    #[must_use]
    pub const fn id(&self) -> ConnectionId {
        self.id
    }

    /// The registry this connection is registered in.
    #[must_use]
    pub const fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Join `room` ([`Sessions::join`] for this connection).
    pub fn join(&self, room: &str) -> bool {
        self.sessions.join(room, self.id)
    }

    /// Leave `room` ([`Sessions::leave`] for this connection).
    pub fn leave(&self, room: &str) -> bool {
        self.sessions.leave(room, self.id)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sessions.unregister(self.id, self.ticket);
    }
}

/// The map's own copy of `name` when it has one, so that every mention of a user or room
/// shares one allocation.
fn shared_name(map: &HashMap<Arc<str>, HashSet<ConnectionId>>, name: &str) -> Arc<str> {
    map.get_key_value(name)
        .map_or_else(|| Arc::from(name), |(shared, _)| Arc::clone(shared))
}

/// `reason` cut to at most [`MAX_CLOSE_REASON`] bytes on a character boundary.
fn truncate_close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
}
