//! Keyward's storage: the domain's repositories on sea-orm (SQLite, PostgreSQL), and its session
//! and ceremony stores on Redis or in process.

pub mod db;
pub mod memory;
pub mod redis_store;
pub mod request_context;

pub use db::{Database, DatabaseOptions, Engine};
pub use memory::MemoryStore;
pub use redis_store::RedisStore;
