//! Hostile servers on loopback: raw sockets answering what a well-behaved server never
//! would (endless and compressed bodies, redirects to other origins), each bounded in
//! time, connections and bytes, so a baton bug fails a test instead of hanging it.

mod body_limit;
mod redirects;
mod server;
