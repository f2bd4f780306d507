//! The schema, versioned, applied at start-up. Every table is keyed by mailbox first so the
//! data can later be sharded by mailbox; change sequence numbers come from a per-mailbox counter
//! bumped inside each write's transaction (no global sequences).

use rolo_domain::{GraphError, GraphResult};

use crate::sql::Backend;

/// Each migration is a list of statements (one starting with `{sqlite}` runs on SQLite only,
/// `{postgres}` on PostgreSQL only);
/// `{doc}` is the document column's type, `{blob}` the
/// binary one, and `{ckey}` the collation of folded key columns: byte order on both databases, so
/// ordering agrees and prefix matches can use the indexes.
pub(crate) const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        upn TEXT NOT NULL,
        upn_key TEXT {ckey} NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        created_at TEXT NOT NULL)",
        "CREATE TABLE mailboxes (
        mailbox_id TEXT PRIMARY KEY,
        root_folder_id TEXT NOT NULL,
        default_folder_id TEXT NOT NULL,
        change_seq BIGINT NOT NULL)",
        "CREATE TABLE folders (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        parent_id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        well_known TEXT,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE UNIQUE INDEX folders_by_name ON folders (mailbox_id, parent_id, name_key)",
        "CREATE INDEX folders_by_parent ON folders (mailbox_id, parent_id, created_seq)",
        "CREATE TABLE contacts (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        folder_id TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        change_key TEXT {ckey} NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        display_name_key TEXT {ckey} NOT NULL,
        given_name_key TEXT {ckey} NOT NULL,
        surname_key TEXT {ckey} NOT NULL,
        company_name_key TEXT {ckey} NOT NULL,
        doc {doc} NOT NULL,
        fold_doc {doc} NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX contacts_by_seq ON contacts (mailbox_id, folder_id, created_seq)",
        "CREATE INDEX contacts_by_display_name ON contacts (mailbox_id, folder_id, display_name_key, created_seq)",
        "CREATE INDEX contacts_by_given_name ON contacts (mailbox_id, folder_id, given_name_key, created_seq)",
        "CREATE INDEX contacts_by_surname ON contacts (mailbox_id, folder_id, surname_key, created_seq)",
        "CREATE INDEX contacts_by_company ON contacts (mailbox_id, folder_id, company_name_key, created_seq)",
        "CREATE INDEX contacts_by_modified ON contacts (mailbox_id, folder_id, modified_at, created_seq)",
        "CREATE TABLE contact_emails (
        mailbox_id TEXT NOT NULL,
        address_key TEXT {ckey} NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, address_key, contact_id))",
        "CREATE INDEX contact_emails_by_contact ON contact_emails (mailbox_id, contact_id)",
        "CREATE TABLE contact_categories (
        mailbox_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, name_key, contact_id))",
        "CREATE INDEX contact_categories_by_contact ON contact_categories (mailbox_id, contact_id)",
    ],
    // Photos live apart from contact rows, so lists never read their bytes. `owner_id` is a contact
    // id, or `user` for the mailbox owner's own photo; `size` is `original` or a standard edge length.
    &["CREATE TABLE photos (
        mailbox_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        size TEXT NOT NULL,
        content_type TEXT NOT NULL,
        width BIGINT NOT NULL,
        height BIGINT NOT NULL,
        etag TEXT NOT NULL,
        bytes {blob} NOT NULL,
        PRIMARY KEY (mailbox_id, owner_id, size))"],
    // Change tracking. Live items carry their last change's sequence number; removals leave a
    // tombstone per scope they left (a folder, or `*` for the whole mailbox) until compaction,
    // which raises the mailbox's floor: delta tokens older than the floor are no longer valid.
    &[
        "CREATE INDEX contacts_by_change ON contacts (mailbox_id, folder_id, change_seq, id)",
        "CREATE INDEX contacts_by_mailbox_change ON contacts (mailbox_id, change_seq, id)",
        "CREATE INDEX folders_by_change ON folders (mailbox_id, change_seq, id)",
        "CREATE TABLE tombstones (
        mailbox_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        removed_at TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, kind, scope_id, item_id))",
        "CREATE INDEX tombstones_by_seq ON tombstones (mailbox_id, kind, scope_id, seq, item_id)",
        "CREATE INDEX tombstones_by_age ON tombstones (removed_at)",
        "ALTER TABLE mailboxes ADD COLUMN tombstone_floor BIGINT NOT NULL DEFAULT 0",
    ],
    // The master category list; names are unique per mailbox, ignoring case.
    &[
        "CREATE TABLE categories (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        color TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE UNIQUE INDEX categories_by_name ON categories (mailbox_id, name_key)",
    ],
    // Open extensions on contacts, one row per (contact, extension name ignoring case).
    &["CREATE TABLE extensions (
        mailbox_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, contact_id, name_key))"],
    // Single-value extended properties, indexed by (canonical id, folded value) for `any()`
    // filters; a mailbox-wide list order for beta's `/me/contacts`; tenant-wide schema
    // extension definitions (the JSON document is the definition).
    &[
        "CREATE TABLE contact_xprops (
        mailbox_id TEXT NOT NULL,
        prop_id TEXT {ckey} NOT NULL,
        value_key TEXT {ckey} NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, prop_id, value_key, contact_id))",
        "CREATE INDEX contact_xprops_by_contact ON contact_xprops (mailbox_id, contact_id)",
        "CREATE INDEX contacts_by_mailbox_seq ON contacts (mailbox_id, created_seq)",
        "CREATE TABLE schema_extensions (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        doc TEXT NOT NULL)",
    ],
    // Change notifications: subscriptions (the JSON document is the subscription; `scope_id` a
    // folder id or `*`), and the outbox their deliveries wait in. Outbox timestamps carry
    // milliseconds; `lease_until` is '' when nobody holds the row.
    &[
        "CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        mailbox_id TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        reauth_at TEXT NOT NULL,
        doc TEXT NOT NULL)",
        "CREATE INDEX subscriptions_by_mailbox ON subscriptions (mailbox_id, expires_at)",
        "CREATE INDEX subscriptions_by_expiry ON subscriptions (expires_at)",
        "CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        mailbox_id TEXT NOT NULL,
        subscription_id TEXT NOT NULL,
        url TEXT NOT NULL,
        lifecycle BIGINT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        lease_until TEXT NOT NULL)",
        "CREATE INDEX outbox_by_due ON outbox (due_at)",
    ],
    // Who else may use a mailbox: whole-mailbox grants (delegates, members of shared mailboxes),
    // folder grants (sharing), and application access policies (an app with rows here reaches
    // only those users' mailboxes).
    &[
        "ALTER TABLE users ADD COLUMN shared BIGINT NOT NULL DEFAULT 0",
        "CREATE TABLE mailbox_grants (
        mailbox_id TEXT NOT NULL,
        grantee_id TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, grantee_id))",
        "CREATE TABLE folder_grants (
        mailbox_id TEXT NOT NULL,
        folder_id TEXT NOT NULL,
        id TEXT NOT NULL,
        grantee_id TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, folder_id, grantee_id))",
        "CREATE INDEX folder_grants_by_grantee ON folder_grants (mailbox_id, grantee_id)",
        "CREATE TABLE app_policies (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (app_id, user_id))",
    ],
    // The identity platform: registered applications (client credentials and application roles)
    // and users' passwords for the password grant. Both hold salted hashes, never secrets.
    &[
        "CREATE TABLE apps (
        client_id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        service_principal_id TEXT NOT NULL,
        roles TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL)",
        "CREATE TABLE user_passwords (
        user_id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        changed_at TEXT NOT NULL)",
    ],
    // Messages and events (the signals People ranks by): the JSON document plus the columns lists
    // filter and sort on; categories in side tables as for contacts; `correspondents` indexes who
    // each item was exchanged with, and `interactions` keeps the per-(mailbox, address)
    // aggregate of it, refreshed in the same transaction as every item write.
    &[
        "CREATE TABLE messages (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        folder TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        change_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        received_at TEXT {ckey} NOT NULL,
        sent_at TEXT {ckey},
        subject_key TEXT {ckey} NOT NULL,
        from_key TEXT {ckey} NOT NULL,
        is_read BIGINT NOT NULL,
        doc {doc} NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX messages_by_received ON messages (mailbox_id, received_at, created_seq)",
        "CREATE INDEX messages_by_folder ON messages (mailbox_id, folder, received_at, created_seq)",
        "CREATE INDEX messages_by_seq ON messages (mailbox_id, created_seq)",
        "CREATE INDEX messages_by_from ON messages (mailbox_id, from_key)",
        "CREATE TABLE message_categories (
        mailbox_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, name_key, item_id))",
        "CREATE INDEX message_categories_by_item ON message_categories (mailbox_id, item_id)",
        "CREATE TABLE events (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        folder TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        change_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        start_at TEXT {ckey} NOT NULL,
        end_at TEXT {ckey} NOT NULL,
        subject_key TEXT {ckey} NOT NULL,
        organizer_key TEXT {ckey} NOT NULL,
        doc {doc} NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX events_by_start ON events (mailbox_id, start_at, created_seq)",
        "CREATE INDEX events_by_seq ON events (mailbox_id, created_seq)",
        "CREATE TABLE event_categories (
        mailbox_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, name_key, item_id))",
        "CREATE INDEX event_categories_by_item ON event_categories (mailbox_id, item_id)",
        "CREATE TABLE correspondents (
        mailbox_id TEXT NOT NULL,
        item_kind TEXT NOT NULL,
        item_id TEXT NOT NULL,
        address_key TEXT {ckey} NOT NULL,
        display_name TEXT NOT NULL,
        signal TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, item_kind, item_id, address_key))",
        "CREATE INDEX correspondents_by_address ON correspondents (mailbox_id, address_key, signal, at)",
        "CREATE TABLE interactions (
        mailbox_id TEXT NOT NULL,
        address_key TEXT {ckey} NOT NULL,
        display_name TEXT NOT NULL,
        sent_count BIGINT NOT NULL,
        received_count BIGINT NOT NULL,
        meeting_count BIGINT NOT NULL,
        last_sent_at TEXT,
        last_received_at TEXT,
        last_meeting_at TEXT,
        PRIMARY KEY (mailbox_id, address_key))",
    ],
    // Consent: public clients (no secret), and delegated permission grants as Graph's
    // oauth2PermissionGrant holds them: per client app, for every user (`principal` '*', an
    // admin's consent) or for one user; `scope` is space-separated.
    &[
        "ALTER TABLE apps ADD COLUMN public_client BIGINT NOT NULL DEFAULT 0",
        "CREATE TABLE app_grants (
        client_id TEXT NOT NULL,
        principal TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        resource_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (client_id, principal))",
    ],
    // Users' lifecycle: a disabled user cannot sign in and its access tokens stop working;
    // `token_epoch` counts the revocations of its refresh tokens (each carries the epoch it was
    // issued in).
    &[
        "ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0",
    ],
    // Interactive sign-in: apps' redirect URIs (space-separated) and certificate (PEM) for client
    // assertions; refresh-token families (rotation, and revoking a family when a rotated token is
    // replayed); one-time keys (authorization codes, client assertion ids) until they expire;
    // device codes waiting for their user (times in unix seconds).
    &[
        "ALTER TABLE apps ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE apps ADD COLUMN certificate TEXT NOT NULL DEFAULT ''",
        "CREATE TABLE refresh_families (
        family_id TEXT PRIMARY KEY,
        latest_jti TEXT NOT NULL,
        revoked BIGINT NOT NULL,
        used_at BIGINT NOT NULL)",
        "CREATE TABLE redeemed (
        redeemed_key TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL)",
        "CREATE TABLE device_codes (
        device_code TEXT PRIMARY KEY,
        user_code TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT NOT NULL,
        user_id TEXT,
        expires_at BIGINT NOT NULL,
        last_poll BIGINT NOT NULL)",
    ],
    // Microsoft To Do: task lists, and tasks stored as messages and events are (versioned rows
    // whose folder is their list's id, key columns for filters and sorts, a category side
    // table). One default list per mailbox, made on first use.
    &[
        "CREATE TABLE todo_lists (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        is_default BIGINT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE UNIQUE INDEX todo_lists_default ON todo_lists (mailbox_id) WHERE is_default = 1",
        "CREATE TABLE tasks (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        folder TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        change_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        title_key TEXT {ckey} NOT NULL,
        status_key TEXT {ckey} NOT NULL,
        importance_key TEXT {ckey} NOT NULL,
        due_at TEXT {ckey},
        start_at TEXT {ckey},
        reminder_at TEXT {ckey},
        completed_at TEXT {ckey},
        is_reminder_on BIGINT NOT NULL,
        doc {doc} NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX tasks_by_list ON tasks (mailbox_id, folder, created_seq)",
        "CREATE INDEX tasks_by_change ON tasks (mailbox_id, folder, change_seq, id)",
        "CREATE TABLE task_categories (
        mailbox_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, name_key, item_id))",
        "CREATE INDEX task_categories_by_item ON task_categories (mailbox_id, item_id)",
    ],
    // `$search` on contacts: each contact's search words (folded, see rolo_domain::search) by
    // the property they come from; a term is a range scan of (mailbox_id, word). Filled for
    // existing contacts at start-up (`search_index::backfill`).
    &[
        "CREATE TABLE contact_words (
        mailbox_id TEXT NOT NULL,
        word TEXT {ckey} NOT NULL,
        field TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, word, field, contact_id))",
        "CREATE INDEX contact_words_by_contact ON contact_words (mailbox_id, contact_id)",
    ],
    // The `$search` words again, clustered on their key (SQLite keeps one B-tree for the rows
    // and the key instead of two): a contact write inserts about twenty of them. Refilled at
    // start-up by `search_index::backfill` (index version 2).
    &[
        "DROP TABLE contact_words",
        "CREATE TABLE contact_words (
        mailbox_id TEXT NOT NULL,
        word TEXT {ckey} NOT NULL,
        field TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, word, field, contact_id)){clustered}",
        "CREATE INDEX contact_words_by_contact ON contact_words (mailbox_id, contact_id)",
    ],
    // Microsoft 365 groups: the group is a user row of mailbox kind 3 (its mailbox holds its
    // categories, threads and posts); `m365_groups` adds what only a group has, `group_members` who
    // belongs. A thread carries its conversation's id (a conversation is its threads); posts
    // are items of kind `Post` filed under their thread.
    &[
        "CREATE TABLE m365_groups (
        id TEXT NOT NULL PRIMARY KEY,
        mail_nickname TEXT NOT NULL,
        description TEXT NOT NULL,
        visibility TEXT NOT NULL,
        created_at TEXT NOT NULL)",
        "CREATE TABLE group_members (
        group_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (group_id, user_id))",
        "CREATE INDEX group_members_by_user ON group_members (user_id, group_id)",
        "CREATE TABLE group_threads (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        last_delivered_at TEXT NOT NULL,
        preview TEXT NOT NULL,
        senders TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX group_threads_by_conversation ON group_threads (mailbox_id, conversation_id)",
        "CREATE TABLE posts (
        mailbox_id TEXT NOT NULL,
        id TEXT NOT NULL,
        folder TEXT NOT NULL,
        created_seq BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        change_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        received_at TEXT {ckey} NOT NULL,
        from_key TEXT {ckey} NOT NULL,
        doc {doc} NOT NULL,
        PRIMARY KEY (mailbox_id, id))",
        "CREATE INDEX posts_by_thread ON posts (mailbox_id, folder, created_seq)",
        "CREATE TABLE post_categories (
        mailbox_id TEXT NOT NULL,
        name_key TEXT {ckey} NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, name_key, item_id))",
        "CREATE INDEX post_categories_by_item ON post_categories (mailbox_id, item_id)",
    ],
    // CardDAV: users' app passwords (salted hashes) for Basic authentication, and the resource
    // names clients gave their cards (kept after the contact goes, so a sync reports the removal
    // under the name the client knows) with the card as the client sent it and the change key it
    // was stored at (served verbatim while the contact is unchanged).
    &[
        "CREATE TABLE app_passwords (
        user_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, id))",
        "CREATE TABLE dav_names (
        mailbox_id TEXT NOT NULL,
        object_id TEXT NOT NULL,
        name TEXT NOT NULL,
        card TEXT,
        card_key TEXT,
        PRIMARY KEY (mailbox_id, object_id))",
        "CREATE INDEX dav_names_by_name ON dav_names (mailbox_id, name)",
    ],
    // SQLite walks the display-name order to answer a name filter sorted by display name (see
    // `list_rows`); with the name keys in the index it tests each entry without reading the
    // contact's row (`startswith(surname,'L')&$orderby=displayName` at 100,000 contacts: 8–30 ms
    // to under 1 ms). SQLite only: PostgreSQL plans with statistics, and its B-tree entries may
    // not hold four 1 KB keys.
    &[
        "{sqlite}DROP INDEX contacts_by_display_name",
        "{sqlite}CREATE INDEX contacts_by_display_name ON contacts
        (mailbox_id, folder_id, display_name_key, created_seq, given_name_key, surname_key, company_name_key)",
    ],
    // Throttling's request counts per (app, mailbox), shared by every process on a PostgreSQL
    // database when no Redis is configured (`server/throttle.rs`). Unlogged on PostgreSQL: a
    // count lost in a crash only forgives some requests, and no write-ahead log keeps each
    // request's increment cheap. Times are milliseconds since the epoch.
    &["{unlogged}CREATE TABLE throttle_counts (
        mailbox_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, app_id))"],
    // Failed sign-ins per user name and per client address, shared by a PostgreSQL fleet's
    // processes when no Redis is configured (`server/lockout.rs`), so N processes do not allow N
    // times the guesses. Unlogged on PostgreSQL like the request counts: a crash forgets some
    // failures, never a password. Times are milliseconds since the epoch; `locked_until` 0 is
    // no lock.
    &["{unlogged}CREATE TABLE signin_failures (
        lock_key TEXT PRIMARY KEY,
        failures BIGINT NOT NULL,
        last_failure BIGINT NOT NULL,
        locked_until BIGINT NOT NULL)"],
    // A folder's number of contacts, kept by triggers in the transaction of every write that adds,
    // removes or moves a contact (Graph, CardDAV, imports, merges, a folder's deletion, the
    // emulator's reset and restore), so an unfiltered `$count` reads one row instead of counting
    // the folder's index (327 ms at 710,000 contacts). Triggers rather than calls in each write
    // path: no path can forget them. The table is derived, not state: it is not in
    // `STATE_TABLES`, and a restore's inserted contacts count themselves. A row stays at 0 when
    // its folder empties; no row means no contacts. On PostgreSQL every update of a row writes a
    // new version the open transaction cannot prune, so a bulk writer (`import_contacts`) sets
    // `rolo.writer_counts` for its transaction and adds its rows with one update instead.
    &[
        "CREATE TABLE folder_counts (
        mailbox_id TEXT NOT NULL,
        folder_id TEXT NOT NULL,
        contacts BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, folder_id))",
        "INSERT INTO folder_counts (mailbox_id, folder_id, contacts)
        SELECT mailbox_id, folder_id, COUNT(*) FROM contacts GROUP BY mailbox_id, folder_id",
        "{sqlite}CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts BEGIN
        INSERT INTO folder_counts (mailbox_id, folder_id, contacts) VALUES (NEW.mailbox_id, NEW.folder_id, 1)
        ON CONFLICT (mailbox_id, folder_id) DO UPDATE SET contacts = contacts + 1;
        END",
        "{sqlite}CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts BEGIN
        UPDATE folder_counts SET contacts = contacts - 1 WHERE mailbox_id = OLD.mailbox_id AND folder_id = OLD.folder_id;
        END",
        "{sqlite}CREATE TRIGGER contacts_count_move AFTER UPDATE OF folder_id ON contacts
        WHEN NEW.folder_id IS NOT OLD.folder_id OR NEW.mailbox_id IS NOT OLD.mailbox_id BEGIN
        UPDATE folder_counts SET contacts = contacts - 1 WHERE mailbox_id = OLD.mailbox_id AND folder_id = OLD.folder_id;
        INSERT INTO folder_counts (mailbox_id, folder_id, contacts) VALUES (NEW.mailbox_id, NEW.folder_id, 1)
        ON CONFLICT (mailbox_id, folder_id) DO UPDATE SET contacts = contacts + 1;
        END",
        "{postgres}CREATE FUNCTION contacts_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        IF current_setting('rolo.writer_counts', true) = 'on' THEN
        RETURN NULL;
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE folder_counts SET contacts = contacts - 1 WHERE mailbox_id = OLD.mailbox_id AND folder_id = OLD.folder_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO folder_counts (mailbox_id, folder_id, contacts) VALUES (NEW.mailbox_id, NEW.folder_id, 1)
        ON CONFLICT (mailbox_id, folder_id) DO UPDATE SET contacts = folder_counts.contacts + 1;
        END IF;
        RETURN NULL;
        END $$",
        "{postgres}CREATE TRIGGER contacts_count_insert_delete AFTER INSERT OR DELETE ON contacts
        FOR EACH ROW EXECUTE FUNCTION contacts_count()",
        "{postgres}CREATE TRIGGER contacts_count_move AFTER UPDATE OF mailbox_id, folder_id ON contacts
        FOR EACH ROW WHEN (NEW.folder_id IS DISTINCT FROM OLD.folder_id OR NEW.mailbox_id IS DISTINCT FROM OLD.mailbox_id)
        EXECUTE FUNCTION contacts_count()",
    ],
    // A name prefix ordered by display name merges each surname's run in display-name order
    // (`sql_store/runs.rs`): `startswith(surname,'Lam')&$orderby=displayName` then reads a page
    // per surname under the prefix instead of walking every display name ahead of the first match.
    &["CREATE INDEX contacts_by_surname_display ON contacts
        (mailbox_id, folder_id, surname_key, display_name_key, created_seq)"],
    // Surnames that rarely repeat (`Lamport 123`) make too many runs to merge: one run per
    // initial instead, in display-name order with the surname beside it to test the rest of the
    // prefix on the entry (`sql_store/runs.rs`). `startswith(surname,'L')` ordered by display
    // name then reads a page of entries, not every display name ahead of the first L.
    &["CREATE INDEX contacts_by_surname_initial ON contacts
        (mailbox_id, folder_id, substr(surname_key, 1, 1), display_name_key, created_seq, surname_key)"],
    // A filter SQLite answers by walking the list order (a side table's `any()`, tested per
    // contact) needs each entry's contact id: with it in the list-order indexes the walk tests
    // the index entry and reads only the page's rows, not every row it passes (about 3 KB each;
    // a 1-in-100 extended-property filter passed 1,100 and missed SQLite's page cache on 1,045
    // pages per statement). SQLite only: a PostgreSQL walk reads the heap for visibility anyway.
    &[
        "{sqlite}DROP INDEX contacts_by_seq",
        "{sqlite}CREATE INDEX contacts_by_seq ON contacts (mailbox_id, folder_id, created_seq, id)",
        "{sqlite}DROP INDEX contacts_by_mailbox_seq",
        "{sqlite}CREATE INDEX contacts_by_mailbox_seq ON contacts (mailbox_id, created_seq, id)",
    ],
    // An extended property's rows carry their contact's list-order key (`created_seq`, set at
    // insert, never changed), indexed after the property's id and value: a default-ordered page
    // filtered on one id and value reads its entries in list order there and seeks only their
    // contacts (query/seek.rs), instead of walking the folder with a side-table seek per contact
    // passed (~1,100 at 1 in 100). The default only fills the column for SQLite's ALTER; the
    // UPDATE sets it, and PostgreSQL drops the default so a write that forgot it fails.
    &[
        "ALTER TABLE contact_xprops ADD COLUMN created_seq BIGINT NOT NULL DEFAULT 0",
        "UPDATE contact_xprops SET created_seq = COALESCE((SELECT c.created_seq FROM contacts c \
         WHERE c.mailbox_id = contact_xprops.mailbox_id AND c.id = contact_xprops.contact_id), 0)",
        "{postgres}ALTER TABLE contact_xprops ALTER COLUMN created_seq DROP DEFAULT",
        "CREATE INDEX contact_xprops_by_seq ON contact_xprops (mailbox_id, prop_id, value_key, created_seq, contact_id)",
    ],
];

/// Every table that holds state, in an order that respects their references: what the emulator
/// resets, snapshots and restores. `settings` (the installation's identity: tenant, signing key)
/// is deliberately not here.
pub const STATE_TABLES: &[&str] = &[
    "users",
    "mailboxes",
    "folders",
    "contacts",
    "contact_emails",
    "contact_categories",
    "contact_xprops",
    "contact_words",
    "photos",
    "tombstones",
    "categories",
    "extensions",
    "schema_extensions",
    "subscriptions",
    "outbox",
    "mailbox_grants",
    "folder_grants",
    "app_policies",
    "apps",
    "app_grants",
    "user_passwords",
    "messages",
    "message_categories",
    "events",
    "event_categories",
    "correspondents",
    "interactions",
    "refresh_families",
    "redeemed",
    "device_codes",
    "todo_lists",
    "tasks",
    "task_categories",
    "m365_groups",
    "group_members",
    "group_threads",
    "posts",
    "post_categories",
    "app_passwords",
    "dav_names",
];

/// The schema version this Rolo migrates to.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub async fn migrate(backend: &dyn Backend) -> GraphResult<()> {
    let dialect = backend.dialect();
    {
        let mut conn = backend.read().await?;
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)", &[]).await?;
    }
    for (idx, statements) in MIGRATIONS.iter().enumerate() {
        let version = idx as i64 + 1;
        let mut tx = backend.begin().await?;
        if let Some(lock) = dialect.exclusive_table_lock("schema_migrations") {
            // Processes starting together take turns; the loser then sees the migration applied.
            tx.execute(&lock, &[]).await?;
        }
        let applied =
            tx.query_opt("SELECT version FROM schema_migrations WHERE version = ?", &[version.into()]).await?.is_some();
        if applied {
            continue;
        }
        for stmt in statements.iter().filter_map(|s| dialect.ddl(s)) {
            tx.execute(&stmt, &[]).await?;
        }
        tx.execute("INSERT INTO schema_migrations (version) VALUES (?)", &[version.into()]).await?;
        if let Err(e) = tx.commit().await {
            // Another process may have applied it concurrently; accept that outcome.
            let mut conn = backend.read().await?;
            let now_applied = conn
                .query_opt("SELECT version FROM schema_migrations WHERE version = ?", &[version.into()])
                .await?
                .is_some();
            if !now_applied {
                return Err(GraphError::internal(format!("migration {version} failed: {e}")));
            }
        }
    }
    Ok(())
}
