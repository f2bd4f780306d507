//! The People service: a mailbox's people (its contacts, the people it exchanged mail and
//! meetings with, and colleagues among them) merged by address, scored with
//! `rolo_domain::people::score` and ranked; the directory's people; their word indexes; and the
//! per-process caches that keep both until the mailbox or the directory changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rolo_domain::mail::ItemKind;
use rolo_domain::people::{self, Match, Signals, Sources};
use rolo_domain::{Contact, GraphError, GraphResult};
use rolo_odata::{Expr, Function, Literal};
use rolo_store::{ListQuery, Scope};
use serde_json::{json, Value};

use super::index::WordIndex;
use crate::ctx::Ctx;

/// One person, merged from every source that knows their address.
#[derive(Debug, Default, Clone)]
pub(super) struct Person {
    id: String,
    display_name: String,
    given_name: Option<String>,
    surname: Option<String>,
    job_title: Option<String>,
    company_name: Option<String>,
    department: Option<String>,
    office_location: Option<String>,
    user_principal_name: Option<String>,
    birthday: Option<String>,
    notes: Option<String>,
    pub(super) addresses: Vec<String>,
    phones: Vec<(String, String)>,
    pub(super) sources: Sources,
    signals: Signals,
    pub(super) score: f64,
    /// The display name in lower case, the ranking's tie-break: computed once when the list is
    /// built, not twice per comparison of every search's sort.
    name_key: String,
}

impl Person {
    fn words(&self) -> Vec<String> {
        let mut w = people::tokens(&self.display_name);
        for part in [&self.given_name, &self.surname].into_iter().flatten() {
            w.extend(people::tokens(part));
        }
        for a in &self.addresses {
            w.extend(people::tokens(a));
        }
        w.sort();
        w.dedup();
        w
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "displayName": self.display_name,
            "givenName": self.given_name,
            "surname": self.surname,
            "birthday": self.birthday.clone().unwrap_or_default(),
            "personNotes": self.notes.clone().unwrap_or_default(),
            "isFavorite": false,
            "jobTitle": self.job_title,
            "companyName": self.company_name,
            "yomiCompany": "",
            "department": self.department,
            "officeLocation": self.office_location,
            "profession": "",
            "userPrincipalName": self.user_principal_name.clone().unwrap_or_default(),
            "imAddress": null,
            "scoredEmailAddresses": self.addresses.iter().map(|a| json!({
                "address": a, "relevanceScore": self.score, "selectionLikelihood": "notSpecified"
            })).collect::<Vec<_>>(),
            "phones": self.phones.iter().map(|(t, n)| json!({"type": t, "number": n})).collect::<Vec<_>>(),
            "postalAddresses": [],
            "websites": [],
            "personType": {"class": "Person", "subclass": self.sources.subclass()},
        })
    }
}

/// A stable id for someone known only by address: a GUID-shaped digest of mailbox and address.
fn implicit_id(mailbox: &str, address: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{mailbox}\n{address}").as_bytes());
    let hex = |r: std::ops::Range<usize>| d.as_ref()[r].iter().map(|b| format!("{b:02x}")).collect::<String>();
    format!("{}-{}-{}-{}-{}", hex(0..4), hex(4..6), hex(6..8), hex(8..10), hex(10..16))
}

fn from_contact(c: &Contact) -> Person {
    let d = &c.data;
    let mut phones = Vec::new();
    for p in &d.phones {
        if let Some(n) = &p.number {
            phones.push((p.kind.clone(), n.clone()));
        }
    }
    Person {
        id: c.id.as_str().to_owned(),
        display_name: d.display_name.clone().unwrap_or_default(),
        given_name: d.given_name.clone(),
        surname: d.surname.clone(),
        job_title: d.job_title.clone(),
        company_name: d.company_name.clone(),
        department: d.department.clone(),
        office_location: d.office_location.clone(),
        birthday: d.birthday.clone(),
        notes: d.personal_notes.clone(),
        addresses: d.email_addresses.iter().filter_map(|e| e.address.clone()).collect(),
        phones,
        sources: Sources { contact: true, directory: false },
        ..Person::default()
    }
}

/// The directory's people, shared by every mailbox's lists, with their search index.
pub(crate) struct Directory {
    /// The store's directory version this was built from.
    version: String,
    pub(super) persons: Vec<Person>,
    index: WordIndex,
}

/// A mailbox's people (contacts and correspondents, colleagues among them marked), scored and
/// ranked, with their search index; valid while the mailbox has not changed.
pub(crate) struct MailboxPeople {
    seq: i64,
    built: Instant,
    directory_version: String,
    pub(super) persons: Vec<Person>,
    index: WordIndex,
    /// Every address of these persons, folded.
    pub(super) addresses: std::collections::HashSet<String>,
}

/// Per-process caches: a mailbox's people are rebuilt after it changes (any contact, message or
/// event write bumps its change counter), after the directory changes, or after ten minutes (so
/// decay moves scores); the directory's version is checked every few seconds. One request
/// rebuilds while the others wait for its result.
#[derive(Default)]
pub(crate) struct PeopleCache {
    directory: tokio::sync::Mutex<Option<(Instant, Arc<Directory>)>>,
    mailboxes: Mutex<HashMap<String, Arc<MailboxSlot>>>,
}

/// One mailbox's cached people. A request that finds them current takes them under a short
/// lock; only a rebuild holds `rebuild` (across its reads), so the others wait for its result.
/// (One lock held across the change-counter read made every search of the mailbox queue behind
/// the others' reads.)
#[derive(Default)]
struct MailboxSlot {
    current: Mutex<Option<Arc<MailboxPeople>>>,
    rebuild: tokio::sync::Mutex<()>,
}

impl MailboxSlot {
    /// The cached people, when they were built at change `seq` of the mailbox, from `directory`'s
    /// version, less than [`MAILBOX_TTL`] ago.
    fn current(&self, seq: i64, directory: &Directory) -> GraphResult<Option<Arc<MailboxPeople>>> {
        let current = self.current.lock().map_err(|_| GraphError::internal("people cache poisoned"))?;
        Ok(current
            .as_ref()
            .filter(|c| c.seq == seq && c.directory_version == directory.version && c.built.elapsed() < MAILBOX_TTL)
            .cloned())
    }
}

/// How long the directory's people are served before its version is read again: a directory
/// changed by another process shows within this.
const DIRECTORY_TTL: Duration = Duration::from_millis(500);
const MAILBOX_TTL: Duration = Duration::from_secs(600);

impl Directory {
    /// The persons matching every word of a people-picker query, with the match quality.
    pub(super) fn search<'a>(&'a self, query: &[String]) -> impl Iterator<Item = (Match, &'a Person)> + 'a {
        let hits = self.index.search(query);
        hits.into_iter().map(|(m, i)| (m, &self.persons[i as usize]))
    }
}

impl MailboxPeople {
    /// The persons matching every word of a people-picker query, with the match quality.
    pub(super) fn search<'a>(&'a self, query: &[String]) -> impl Iterator<Item = (Match, &'a Person)> + 'a {
        let hits = self.index.search(query);
        hits.into_iter().map(|(m, i)| (m, &self.persons[i as usize]))
    }
}

fn directory_person(u: &rolo_store::User) -> Person {
    Person {
        id: u.id.clone(),
        display_name: u.display_name.clone(),
        user_principal_name: Some(u.user_principal_name.clone()),
        addresses: vec![u.user_principal_name.clone()],
        sources: Sources { contact: false, directory: true },
        score: people::COLLEAGUE_BONUS,
        ..Person::default()
    }
}

impl PeopleCache {
    /// Drops the directory's people (it changed, in this process or another).
    pub(crate) fn forget_directory(&self) {
        if let Ok(mut d) = self.directory.try_lock() {
            *d = None;
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut d) = self.directory.try_lock() {
            *d = None;
        }
        if let Ok(mut m) = self.mailboxes.lock() {
            m.clear();
        }
    }

    pub(super) async fn directory(&self, ctx: &Ctx) -> GraphResult<Arc<Directory>> {
        let mut slot = self.directory.lock().await;
        if let Some((checked, d)) = slot.as_mut() {
            if checked.elapsed() < DIRECTORY_TTL {
                return Ok(d.clone());
            }
            if ctx.state.store.directory_version().await? == d.version {
                *checked = Instant::now();
                return Ok(d.clone());
            }
        }
        let version = ctx.state.store.directory_version().await?;
        let mut persons: Vec<Person> = ctx
            .state
            .store
            .list_users()
            .await?
            .iter()
            .filter(|u| u.kind == rolo_store::MailboxKind::User)
            .map(directory_person)
            .collect();
        for p in &mut persons {
            p.name_key = p.display_name.to_lowercase();
        }
        persons.sort_by(|a, b| a.name_key.cmp(&b.name_key).then_with(|| a.id.cmp(&b.id)));
        let index = WordIndex::build(persons.iter().map(Person::words));
        let d = Arc::new(Directory { version, persons, index });
        *slot = Some((Instant::now(), d.clone()));
        Ok(d)
    }

    pub(super) async fn mailbox(&self, ctx: &Ctx, directory: &Arc<Directory>) -> GraphResult<Arc<MailboxPeople>> {
        let seq = ctx.state.store.change_state(ctx.mailbox()).await?.current;
        let slot = {
            let mut m = self.mailboxes.lock().map_err(|_| GraphError::internal("people cache poisoned"))?;
            if m.len() > 10_000 {
                m.clear();
            }
            m.entry(ctx.mailbox().id.clone()).or_default().clone()
        };
        if let Some(c) = slot.current(seq, directory)? {
            return Ok(c);
        }
        let _rebuilding = slot.rebuild.lock().await;
        // Another request may have rebuilt while this one waited; the counter is read again so
        // that a rebuild records the change its reads start from.
        let seq = ctx.state.store.change_state(ctx.mailbox()).await?.current;
        if let Some(c) = slot.current(seq, directory)? {
            return Ok(c);
        }
        let persons = mailbox_people(ctx, directory).await?;
        let index = WordIndex::build(persons.iter().map(Person::words));
        let addresses = persons.iter().flat_map(|p| p.addresses.iter().map(|a| a.to_lowercase())).collect();
        let built = Arc::new(MailboxPeople {
            seq,
            built: Instant::now(),
            directory_version: directory.version.clone(),
            persons,
            index,
            addresses,
        });
        *slot.current.lock().map_err(|_| GraphError::internal("people cache poisoned"))? = Some(built.clone());
        Ok(built)
    }
}

/// Everyone the mailbox knows, merged by address, scored and ranked: its contacts, the
/// directory users among them or among its correspondents, and its other correspondents.
async fn mailbox_people(ctx: &Ctx, directory: &Directory) -> GraphResult<Vec<Person>> {
    let store = &ctx.state.store;
    let mb = ctx.mailbox();
    let mut persons: Vec<Person> = Vec::new();
    let mut by_address: HashMap<String, usize> = HashMap::new();
    let add = |persons: &mut Vec<Person>, by_address: &mut HashMap<String, usize>, p: Person| {
        // Join an existing person when any address is shared.
        let known = p.addresses.iter().find_map(|a| by_address.get(&a.to_lowercase()).copied());
        match known {
            Some(i) => {
                let target = &mut persons[i];
                target.sources.contact |= p.sources.contact;
                target.sources.directory |= p.sources.directory;
                for a in p.addresses {
                    if !target.addresses.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                        by_address.insert(a.to_lowercase(), i);
                        target.addresses.push(a);
                    }
                }
                // A directory user is that person's identity (id, name, principal name); the contact
                // fills what the directory lacks.
                if p.user_principal_name.is_some() {
                    target.user_principal_name = p.user_principal_name;
                    target.id = p.id;
                    target.display_name = p.display_name;
                }
                for (slot, value) in [
                    (&mut target.job_title, p.job_title),
                    (&mut target.department, p.department),
                    (&mut target.office_location, p.office_location),
                    (&mut target.company_name, p.company_name),
                ] {
                    if slot.is_none() {
                        *slot = value;
                    }
                }
            }
            None => {
                let i = persons.len();
                for a in &p.addresses {
                    by_address.insert(a.to_lowercase(), i);
                }
                persons.push(p);
            }
        }
    };

    // The mailbox's contacts, every folder.
    let mut query = ListQuery { page_size: 1000, ..ListQuery::default() };
    loop {
        let page = store.list_contacts(mb, &Scope::Mailbox, &query).await?;
        for c in &page.items {
            add(&mut persons, &mut by_address, from_contact(c));
        }
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    let owner = ctx.user.user_principal_name.to_lowercase();
    let colleagues: HashMap<String, &Person> =
        directory.persons.iter().map(|p| (p.addresses[0].to_lowercase(), p)).collect();
    // Directory users who are also contacts.
    let saved: Vec<String> = by_address.keys().filter(|a| colleagues.contains_key(*a)).cloned().collect();
    for a in saved {
        if a != owner {
            add(&mut persons, &mut by_address, colleagues[&a].clone());
        }
    }
    // Who the mailbox exchanged mail and meetings with.
    for i in store.interactions(mb).await? {
        let key = i.address.to_lowercase();
        if key == owner {
            continue;
        }
        let idx = match by_address.get(&key) {
            Some(idx) => *idx,
            None => {
                // A colleague never saved but written to is still a directory user.
                let p = match colleagues.get(&key) {
                    Some(c) => (*c).clone(),
                    None => Person {
                        id: implicit_id(&mb.id, &key),
                        display_name: i.display_name.clone(),
                        addresses: vec![i.address.clone()],
                        ..Person::default()
                    },
                };
                by_address.insert(key.clone(), persons.len());
                persons.push(p);
                persons.len() - 1
            }
        };
        let s = &mut persons[idx].signals;
        s.sent += i.sent_count;
        s.received += i.received_count;
        s.meetings += i.meeting_count;
        for (slot, value) in [
            (&mut s.last_sent, i.last_sent_at),
            (&mut s.last_received, i.last_received_at),
            (&mut s.last_meeting, i.last_meeting_at),
        ] {
            if value.as_ref() > slot.as_ref() {
                *slot = value;
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    for p in &mut persons {
        if p.display_name.is_empty() {
            p.display_name = p.addresses.first().cloned().unwrap_or_default();
        }
        p.score = people::score(p.sources, &p.signals, now);
        p.name_key = p.display_name.to_lowercase();
    }
    persons.sort_by(rank);
    Ok(persons)
}

/// Relevance first; then name and id, so equal scores keep one order.
pub(super) fn rank(a: &Person, b: &Person) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.name_key.cmp(&b.name_key)).then_with(|| a.id.cmp(&b.id))
}

/// `topic:` search: the people on messages and events whose subject holds every word.
pub(super) async fn topic(ctx: &Ctx, words: &str) -> GraphResult<Vec<String>> {
    let mut filter: Option<Expr> = None;
    for w in words.split_whitespace() {
        let term = Expr::Call(
            Function::Contains,
            vec![Expr::Path(vec!["subject".into()]), Expr::Literal(Literal::String(w.to_owned()))],
        );
        filter = Some(match filter {
            None => term,
            Some(f) => Expr::And(Box::new(f), Box::new(term)),
        });
    }
    let mut addresses = Vec::new();
    for kind in [ItemKind::Message, ItemKind::Event] {
        let mut query = ListQuery { page_size: 1000, filter: filter.clone(), ..ListQuery::default() };
        loop {
            let page = ctx.state.store.list_items(ctx.mailbox(), kind, None, &query).await?;
            for item in &page.items {
                for c in rolo_domain::mail::correspondents(kind, &item.folder, &item.doc, &ctx.user.user_principal_name)
                {
                    addresses.push(c.address.to_lowercase());
                }
            }
            match page.next {
                Some(cursor) => query.after = Some(cursor),
                None => break,
            }
        }
    }
    Ok(addresses)
}
