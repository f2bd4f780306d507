//! The two database backends behind [`crate::sql::Backend`].

pub mod postgres;
mod replicas;
pub mod sqlite;
