//! The two database backends behind [`crate::sql::Backend`].

pub mod postgres;
pub mod sqlite;
