//! Command-line options.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Benchmarks a Rolo server over real HTTP and prints a Markdown report.
///
/// By default it spawns `rolo serve` on a free port with a fresh SQLite
/// database, creates the user bench@rolo.test and a token through the rolo
/// CLI, seeds contacts, runs the scenarios and kills the server at the end.
#[derive(Debug, Parser)]
#[command(name = "rolo-bench", version)]
pub struct Cli {
    /// The rolo binary to drive [default: target/release/rolo, else next to rolo-bench].
    #[arg(long, value_name = "PATH")]
    pub rolo: Option<PathBuf>,

    /// `sqlite` for a fresh SQLite file in a temp dir, or a path / postgres:// URL
    /// passed to rolo as is.
    #[arg(long, value_name = "sqlite|PATH|URL", default_value = "sqlite")]
    pub database: String,

    /// Contacts created by the "create" scenario (and used by the others).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub contacts: usize,

    /// Seconds of load per scenario and concurrency.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub duration: f64,

    /// Concurrency levels (connections) to run each scenario at.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "1,16")]
    pub concurrency: Vec<usize>,

    /// Scenarios to run ("all" for every one). Without "create", ids are collected from the
    /// existing mailbox instead of creating contacts.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "ceiling,create,get,list,filter,deep,rss")]
    pub scenarios: Vec<Scenario>,

    /// Directory users the people scenario seeds.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub people_directory: usize,

    /// Received messages the people scenario imports (spread over two years).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub people_messages: usize,

    /// Total contacts for the memory check (seeding continues up to this); 0 skips it.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub big: usize,

    /// Contacts the million scenario grows the mailbox to (with `rolo import`).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub million: usize,

    /// Mailboxes the mailboxes scenario measures across (seeded when missing or empty).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub mailboxes: usize,

    /// Contacts in each of the mailboxes scenario's mailboxes.
    #[arg(long, value_name = "M", default_value_t = 1_000)]
    pub per_mailbox: usize,

    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Bench an already running server at this Graph base URL
    /// (e.g. http://127.0.0.1:8080/v1.0) instead of spawning one.
    #[arg(long, value_name = "URL", requires = "token")]
    pub external: Option<String>,

    /// Bearer token for --external.
    #[arg(long, value_name = "T", requires = "external")]
    pub token: Option<String>,

    /// Run only the ceiling server, print its address and serve until killed (to profile it
    /// alone, e.g. under callgrind, with the same method as `rolo serve`).
    #[arg(long)]
    pub serve_ceiling: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every scenario below, in the order of the report.
    All,
    /// The machine's ceiling: a do-nothing hyper server in the bench answering any GET with a
    /// fixed 1.6 KB contact, measured with the same client; rows then show "× ceiling".
    Ceiling,
    /// Seed --contacts contacts with POST at concurrency 4.
    #[value(alias = "creates")]
    Create,
    /// 10,000 more creates through `POST $batch` (20 per batch) at concurrency 4.
    #[value(alias = "batch-create")]
    Batch,
    /// GET /me/contacts/{id} with random seeded ids.
    #[value(alias = "get-by-id")]
    Get,
    /// GET /me/contacts (first page).
    #[value(alias = "list-page")]
    List,
    /// GET /me/contacts?$filter=startswith(surname,'L')&$orderby=displayName.
    #[value(alias = "filter-orderby")]
    Filter,
    /// Page 1 vs page 1000 reached by following @odata.nextLink.
    #[value(alias = "paging")]
    Deep,
    /// Contact photos: PUT a 1024x768 JPEG (decoded; sizes render on first read), then GET
    /// the stored 96x96 rendition's $value.
    #[value(alias = "photo")]
    Photos,
    /// Server VmRSS/VmHWM after seeding --big contacts and a list/get mix.
    #[value(alias = "memory")]
    Rss,
    /// Delta on the default folder, after the other scenarios (so at --big contacts when rss ran):
    /// no-change polls, and incremental rounds after 100 changes.
    Delta,
    /// Organizing, over the whole seeded mailbox: a category filter, `$expand=extensions` and an
    /// extended-property filter, each answering a page.
    #[value(alias = "organizing")]
    Organize,
    /// One mailbox of --million contacts (seeded with `rolo import`, once per database): first
    /// page, get by id, prefix searches, `$count`, delta and the server's RSS, each with its target.
    #[value(alias = "big-mailbox")]
    Million,
    /// --mailboxes users of --per-mailbox contacts each (seeded once per database with `rolo users
    /// add --from` and `rolo import --manifest`), measured over random mailboxes with one app-only
    /// token: first page, get by id, prefix searches, `$count`, delta and the server's RSS.
    #[value(alias = "fleet")]
    Mailboxes,
    /// Change notifications: a subscription on me/contacts to the bench's own webhook receiver,
    /// then 500 creates at each concurrency; latency from each 201 to its `created` notification.
    #[value(alias = "notifications")]
    Notify,
    /// CardDAV on a fresh address book of --contacts cards: bulk PUT, full listing (PROPFIND +
    /// multiget), sync-collection with no change and after 100 changes, addressbook-query prefix.
    #[value(alias = "dav")]
    Carddav,
    /// The People API over a large corpus (run with --emulator: the directory is seeded through
    /// /rolo/admin): the first page of /me/people and people-picker $search.
    People,
}

impl Cli {
    pub fn wants(&self, s: Scenario) -> bool {
        self.scenarios.contains(&s) || self.scenarios.contains(&Scenario::All)
    }

    /// Checks what clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            return Err("--concurrency needs positive numbers, e.g. 1,16".into());
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err("--duration must be a positive number of seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_defaults() {
        let cli =
            Cli::parse_from(["rolo-bench", "--concurrency", "1,4,16", "--scenarios", "get-by-id,list,notifications"]);
        assert_eq!(cli.concurrency, vec![1, 4, 16]);
        assert_eq!(cli.scenarios, vec![Scenario::Get, Scenario::List, Scenario::Notify]);
        assert_eq!(cli.contacts, 10_000);
        assert_eq!(cli.big, 100_000);
        assert!(cli.validate().is_ok());
        assert!(!cli.wants(Scenario::Ceiling));
        let all = Cli::parse_from(["rolo-bench", "--scenarios", "all"]);
        assert!(all.wants(Scenario::Ceiling) && all.wants(Scenario::Batch) && all.wants(Scenario::People));
        assert!(Cli::parse_from(["rolo-bench"]).wants(Scenario::Ceiling));
        assert!(Cli::try_parse_from(["rolo-bench", "--token", "t"]).is_err());
    }
}
