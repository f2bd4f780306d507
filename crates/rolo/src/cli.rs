//! The command line: every subcommand and its arguments, as clap reads them.

use clap::{Parser, Subcommand};

use crate::config::DatabaseArgs;

#[derive(Parser)]
#[command(name = "rolo", version, about = "A self-hostable server for the Microsoft Graph personal contacts API")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve the Graph API at http://ADDR/v1.0
    Serve {
        /// Address to listen on
        #[arg(long, env = "ROLO_LISTEN")]
        listen: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
        /// A PostgreSQL hot standby of --database that serves mailbox reads (repeatable; in the
        /// environment, comma-separated)
        #[arg(long = "database-replica", env = "ROLO_DATABASE_REPLICA", value_delimiter = ',')]
        database_replicas: Vec<String>,
        /// A TOML file with `listen`, `database`, `database_replicas`, `public_url`, `durability`, `max_connections`, `tls_cert`, `tls_key`
        #[arg(long, env = "ROLO_CONFIG")]
        config: Option<std::path::PathBuf>,
        /// Run as an emulator: well-known tenant, key and data set, printed tokens, and the
        /// `/rolo/admin` controls; without --database, on a throwaway database
        #[arg(long)]
        emulator: bool,
        /// With --emulator: seed an empty database from this JSON file instead of the well-known set
        #[arg(long, requires = "emulator")]
        seed: Option<std::path::PathBuf>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Manage directory users (each has a mailbox with a default Contacts folder)
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage Microsoft 365 groups (each has a mailbox for its conversations)
    Groups {
        #[command(subcommand)]
        command: GroupsCommand,
    },
    /// Manage registered applications (client credentials for the token endpoint)
    Apps {
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Print a signed bearer token for a user (delegated: `scp`)
    Token {
        /// The user's principal name or id
        upn: String,
        /// Space-separated scopes
        #[arg(long, default_value = "Contacts.ReadWrite")]
        scopes: String,
        /// Lifetime, e.g. 3600, 90s, 30m, 1h, 7d
        #[arg(long, default_value = "1h")]
        ttl: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Share a contact folder with another user: ROLE is read, write, or none to stop sharing
    Share {
        /// The folder's owner (principal name or id)
        owner: String,
        /// The folder's id (`contacts` for the default folder)
        folder: String,
        /// Who it is shared with
        #[arg(long)]
        with: String,
        #[arg(long, default_value = "read")]
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Manage the installation's token signing key
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import a vCard or CSV (Outlook's or Google's columns) file into a user's contacts, or
    /// (--manifest) many users' files at once
    Import {
        /// The user's principal name or id
        #[arg(required_unless_present = "manifest")]
        upn: Option<String>,
        #[arg(required_unless_present = "manifest")]
        file: Option<std::path::PathBuf>,
        /// Load a whole organisation into a database no server is using: a file of
        /// `UPN<TAB>FILE` lines (FILE relative to the manifest's directory; blank lines and lines
        /// starting with `#` skipped), all imported as --bulk in ONE transaction that rebuilds
        /// the contact indexes once (a failure leaves nothing imported)
        #[arg(long, value_name = "FILE", conflicts_with_all = ["upn", "file"])]
        manifest: Option<std::path::PathBuf>,
        /// A folder path under Contacts, e.g. `Work/Clients` (created when missing)
        #[arg(long)]
        folder: Option<String>,
        /// vcard, outlook-csv or google-csv (detected from the file when not given)
        #[arg(long)]
        format: Option<String>,
        /// Bulk load into a database no server is using: the file is one transaction whose new
        /// contacts are written in key order, the contact indexes dropped and rebuilt around them
        /// (the same contacts, change log and notifications as without it; much faster into a
        /// large mailbox)
        #[arg(long)]
        bulk: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Export a user's contact folder as vCard or CSV
    Export {
        upn: String,
        /// A folder path under Contacts, e.g. `Work/Clients`
        #[arg(long)]
        folder: Option<String>,
        /// vcard (3.0), vcard4, outlook-csv or google-csv
        #[arg(long)]
        format: String,
        /// Write to this file instead of standard output
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Copy a live SQLite database to a new file, while servers keep serving it (PostgreSQL:
    /// see docs/OPERATIONS.md)
    Backup {
        /// The file to write (must not exist)
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Replace a SQLite database with a backup made by `rolo backup` (stop its servers first)
    Restore {
        /// The backup file
        #[arg(long)]
        from: std::path::PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Start on a throwaway database seeded with users and contacts, and print tokens
    Demo {
        #[arg(long, env = "ROLO_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Serve https with a certificate from a local certificate authority (see `serve --tls`)
        #[arg(long)]
        tls: bool,
        /// With --tls: where the local certificate authority is kept (default: ./rolo-data)
        #[arg(long, env = "ROLO_TLS_DIR")]
        tls_dir: Option<std::path::PathBuf>,
    },
}

/// Serving over TLS: an operator's files, or (emulator) a local certificate authority.
#[derive(clap::Args)]
pub(crate) struct TlsArgs {
    /// Serve https with this PEM certificate chain (leaf first); needs --tls-key
    #[arg(long, env = "ROLO_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "ROLO_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// With --emulator: serve https with a certificate for localhost, 127.0.0.1 and ::1 from a
    /// local certificate authority, created once in --tls-dir; prints how to trust it
    #[arg(long, requires = "emulator", conflicts_with = "tls_cert")]
    pub(crate) tls: bool,
    /// With --tls: where the local certificate authority is kept (default: the SQLite
    /// database's directory, else ./rolo-data)
    #[arg(long, env = "ROLO_TLS_DIR")]
    pub(crate) tls_dir: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum GroupsCommand {
    /// Add a Microsoft 365 group
    Add {
        /// The group's display name
        name: String,
        /// The group's mail address
        #[arg(long)]
        mail: String,
        /// The members' principal names, comma-separated
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Public (the default) or Private
        #[arg(long)]
        visibility: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List the groups
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user, or (--from) many users in one transaction
    Add {
        #[arg(required_unless_present = "from")]
        upn: Option<String>,
        #[arg(long, required_unless_present = "from")]
        display_name: Option<String>,
        /// Add every user of a file of `UPN<TAB>DISPLAY NAME` lines (the display name defaults to
        /// the UPN; blank lines and lines starting with `#` skipped), all or none
        #[arg(long, value_name = "FILE", conflicts_with_all = ["upn", "display_name", "password", "shared", "archive"])]
        from: Option<std::path::PathBuf>,
        /// A password for the token endpoint's password grant
        #[arg(long, conflicts_with = "shared")]
        password: Option<String>,
        /// A shared mailbox: nobody signs in as it; members get access with `users grant`
        #[arg(long)]
        shared: bool,
        /// An in-place archive mailbox, which Graph (and so Rolo) does not serve
        #[arg(long, conflicts_with_all = ["shared", "password"])]
        archive: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Delegate a mailbox (or give a member full access to a shared mailbox): ROLE is read,
    /// write, or none to take it back
    Grant {
        /// The mailbox's owner (principal name or id)
        owner: String,
        /// Who gets access
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "write")]
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Disable a user: no sign-in, refresh tokens revoked, access tokens refused from the next request
    Disable {
        /// The user's principal name or id
        upn: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Enable a disabled user again (the refresh tokens revoked stay revoked)
    Enable {
        /// The user's principal name or id
        upn: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Remove a user and delete all of its mailbox's data, after a confirmation
    Remove {
        /// The user's principal name or id
        upn: String,
        /// Do not ask (needed when there is no terminal to ask on)
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// App passwords for CardDAV clients (Basic authentication): add NAME prints a new one
    /// (only then), list shows the names, remove NAME revokes one
    AppPassword {
        #[command(subcommand)]
        command: AppPasswordCommand,
    },
    /// Set a user's password (refresh tokens issued before stop working)
    Passwd {
        /// The user's principal name or id
        upn: String,
        password: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub(crate) enum AppPasswordCommand {
    /// Create an app password and print it (it is stored hashed and cannot be shown again)
    Add {
        /// The user's principal name or id
        upn: String,
        /// What the password is for, e.g. "phone"
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List a user's app passwords (names and dates, never the passwords)
    List {
        upn: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke an app password: clients using it are refused from their next request
    Remove {
        upn: String,
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Replace the signing key with a new one (running servers take it within a second, and
    /// tokens signed before stop working); prints the new key id. Needed before serving a database the emulator created.
    Rotate {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub(crate) enum AppsCommand {
    /// Register an application; prints its client id and secret (the secret only this once)
    Add {
        name: String,
        /// Space-separated application permissions, e.g. "Contacts.Read Contacts.ReadWrite"
        #[arg(long, default_value = "")]
        roles: String,
        /// A public client (SPA, desktop, mobile): no secret, no client-credentials grant
        #[arg(long, conflicts_with = "roles")]
        public: bool,
        /// Where sign-in may send codes (repeatable): matched exactly, except that a loopback
        /// URI (http://localhost/cb) matches on any port
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A certificate (PEM) whose key signs the app's client assertions
        #[arg(long, value_name = "FILE")]
        certificate: Option<std::path::PathBuf>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// An admin's consent: let the app's delegated tokens carry these scopes (for every user,
    /// or for one with --user); admin-only scopes such as People.Read.All need this
    Grant {
        /// The app's client id
        app: String,
        /// Space-separated delegated permissions, e.g. "People.Read.All User.Read.All"
        #[arg(long)]
        scopes: String,
        /// Only for this user's sign-ins (principal name or id)
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Withdraw an admin's consent given with `apps grant` (tokens already issued stay valid
    /// until they expire; refresh tokens stop carrying the scopes)
    Revoke {
        /// The app's client id
        app: String,
        /// Only for this user's sign-ins (principal name or id)
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List registered applications
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Limit an app to some mailboxes (like Exchange's ApplicationAccessPolicy); an app with no
    /// restriction reaches every mailbox its roles allow
    Restrict {
        /// The app's client id
        app: String,
        /// Users (principal names or ids) the app may reach
        #[arg(long, required = true, num_args = 1..)]
        to: Vec<String>,
        /// Take these users out of the app's policy instead
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}
