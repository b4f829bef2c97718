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
    /// connections accepted the close; one whose queue is full is closed as a slow consumer
    /// instead. Each connection leaves the registry when its task ends and drops its
    /// [`Registration`].
    ///
    /// Kicking does not revoke the user's token: to keep them out, make the
    /// [`TokenVerifier`](crate::TokenVerifier) refuse it too.
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
mod tests;
