//! Hostile servers on loopback: raw sockets answering what a well-behaved server never
//! would (endless and compressed bodies, redirects to other origins, numbers out of
//! range, control characters, echoed secrets, hosts smuggled into captures), each bounded
//! in time, connections and bytes, so a baton bug fails a test instead of hanging it.

mod body_limit;
mod keepalive;
mod numbers;
mod output;
mod redirects;
pub(crate) mod server;
