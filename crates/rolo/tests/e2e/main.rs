//! Rolo's end-to-end tests: one binary (linking the server once, sharing one throwaway
//! PostgreSQL cluster per run), one module per area. Each test starts the real server on a free
//! port over SQLite or PostgreSQL (`both_backends!`) and speaks HTTP to it; `cli` drives the
//! built `rolo` binary.

#[macro_use]
mod common;

mod access;
mod access_admin;
mod access_dav;
mod batch;
mod carddav;
mod carddav_clients;
mod carddav_more;
mod categories;
mod cli;
mod contacts;
mod delta;
mod emulator;
mod errors_and_auth;
mod extensions;
mod fleet;
mod folders;
mod groups;
mod identity;
mod js_client;
mod merge;
mod messages;
mod msal;
mod notifications;
mod odata;
mod openapi;
mod operations;
mod organizing;
mod people;
mod photos;
mod python_client;
mod replicas;
mod resource_limits;
mod robustness;
mod search;
mod tls;
mod todo;
mod users_lifecycle;
mod webapp;
