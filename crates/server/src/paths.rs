//! The Graph v1.0 URL space for contacts, parsed in one place. Segments match
//! case-insensitively as on Graph; keys may be path segments (`contacts/{id}`) or OData key
//! syntax (`contacts('{id}')`); `childFolders/{id}` nests to any depth.

use rolo_domain::access::RouteKind;
use rolo_domain::text::strip_prefix_ignore_ascii_case;
use rolo_domain::{GraphError, GraphResult};

/// Whose mailbox: the signed-in user, or a user named by id or user principal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Me,
    User(String),
}

/// Where contacts live: the default folder, or a folder reached through a chain of ids
/// (`contactFolders/{a}/childFolders/{b}` is `[a, b]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderPath {
    Default,
    Chain(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `.../contacts`
    Contacts(FolderPath),
    /// `.../contacts/{id}`, with `permanentDelete` when `permanent_delete`.
    Contact {
        folder: FolderPath,
        id: String,
        permanent_delete: bool,
    },
    /// `/contactFolders` (children of the default folder) or `.../childFolders`.
    Folders(FolderPath),
    /// `/contactFolders/{id}[/childFolders/{id}...]`.
    Folder {
        chain: Vec<String>,
        permanent_delete: bool,
    },
    /// `.../contacts/{id}/photo[/$value]` and, a Rolo extension, `.../contacts/{id}/photos/{size}[/$value]`.
    ContactPhoto {
        folder: FolderPath,
        id: String,
        photo: PhotoPath,
    },
    /// `/me/photo[/$value]`, `/me/photos[/{size}[/$value]]` and the `/users/{id}` forms.
    UserPhoto(PhotoPath),
    /// Rolo extensions (see `vcard`): `.../contacts/{id}/$value` (the contact as a vCard),
    /// `.../contacts/$value` (the folder's contacts as one file), and
    /// `.../contactFolders/{id}/import` (a vCard or CSV file into the folder).
    ContactFile {
        folder: FolderPath,
        id: String,
    },
    ContactFiles(FolderPath),
    FolderImport {
        chain: Vec<String>,
    },
    /// `.../contacts/delta` (the default folder's, or any folder's).
    ContactsDelta(FolderPath),
    /// `/contactFolders/delta`: every folder of the mailbox.
    FoldersDelta,
    /// `.../contacts/{id}/extensions[/{extensionId}]`.
    ContactExtensions {
        folder: FolderPath,
        id: String,
        extension: Option<String>,
    },
    /// `.../contactFolders/{id}/permissions[/{permissionId}]`: who the folder is shared with (a
    /// Rolo extension shaped like Graph's calendar permissions).
    FolderPermissions {
        chain: Vec<String>,
        id: Option<String>,
    },
    /// `/outlook/masterCategories` and `/outlook/masterCategories/{id}`.
    Categories,
    Category(String),
    /// `/messages` (every folder) or `/mailFolders/{inbox|drafts|sentitems}/messages`.
    Messages(Option<String>),
    /// `/messages/{id}` (also under `mailFolders/{name}`).
    Message(String),
    /// `/sendMail`.
    SendMail,
    /// `/messages/{id}/send`: sends a draft.
    SendDraft(String),
    /// `/events`.
    Events,
    /// `/people`: the people most relevant to the mailbox.
    People,
    /// `/events/{id}`.
    Event(String),
    /// `/todo/lists`.
    TodoLists,
    /// `/todo/lists/{id}`.
    TodoList(String),
    /// `/todo/lists/{id}/tasks`.
    Tasks(String),
    /// `/todo/lists/{id}/tasks/delta`.
    TasksDelta(String),
    /// `/todo/lists/{list}/tasks/{id}`.
    Task {
        list: String,
        id: String,
    },
    /// `/todo/lists/{list}/tasks/{task}/checklistItems[/{id}]`.
    ChecklistItems {
        list: String,
        task: String,
        id: Option<String>,
    },
}

impl Resource {
    /// Messages and `sendMail`: governed by the `Mail.*` scopes.
    pub fn is_mail(&self) -> bool {
        matches!(self, Resource::Messages(_) | Resource::Message(_) | Resource::SendMail | Resource::SendDraft(_))
    }

    /// Microsoft To Do: governed by the `Tasks.*` scopes.
    pub fn is_todo(&self) -> bool {
        matches!(
            self,
            Resource::TodoLists
                | Resource::TodoList(_)
                | Resource::Tasks(_)
                | Resource::TasksDelta(_)
                | Resource::Task { .. }
                | Resource::ChecklistItems { .. }
        )
    }

    /// Events: governed by the `Calendars.*` scopes.
    pub fn is_calendar(&self) -> bool {
        matches!(self, Resource::Events | Resource::Event(_))
    }

    /// Which row of the scope table (`rolo_domain::access::SCOPES`) governs the route.
    pub fn route_kind(&self) -> RouteKind {
        match self {
            Resource::UserPhoto(_) => RouteKind::UserPhoto,
            Resource::Categories | Resource::Category(_) => RouteKind::MailboxSettings,
            Resource::SendMail | Resource::SendDraft(_) => RouteKind::MailSend,
            r if r.is_mail() => RouteKind::Mail,
            r if r.is_todo() => RouteKind::Tasks,
            r if r.is_calendar() => RouteKind::Calendars,
            Resource::People => RouteKind::People,
            _ => RouteKind::Contacts,
        }
    }
}

/// After `messages`: the collection, one message, or its `send` action.
fn message_tail(folder: Option<String>, key: Option<String>, rest: &[&str]) -> GraphResult<Resource> {
    let is_send = |s: &str| is(s, "send") || is(s, "microsoft.graph.send");
    match (key, rest) {
        (Some(id), [action]) if is_send(action) => Ok(Resource::SendDraft(id)),
        (None, [id, action]) if is_send(action) => Ok(Resource::SendDraft((*id).to_owned())),
        (key, rest) => Ok(match item_tail(key, rest)? {
            None => Resource::Messages(folder),
            Some(id) => Resource::Message(id),
        }),
    }
}

/// `{name}` or `{name}/{id}` or `{name}('{id}')`: the collection (`None`) or one item.
fn item_tail(key: Option<String>, rest: &[&str]) -> GraphResult<Option<String>> {
    match (key, rest) {
        (None, []) => Ok(None),
        (None, [id]) => Ok(Some((*id).to_owned())),
        (Some(k), []) => Ok(Some(k)),
        (_, [.., other]) => Err(not_found_segment(other)),
    }
}

/// After `todo`: lists, a list, its tasks (and their delta), a task, its checklist items.
fn todo_tail(rest: &[&str]) -> GraphResult<Resource> {
    // `name('key')` reads as `name/key`.
    let mut segs: Vec<String> = Vec::new();
    for seg in rest {
        if is_delta(seg) {
            segs.push((*seg).to_owned());
            continue;
        }
        let (name, key) = split_key(seg)?;
        segs.push(name.to_owned());
        segs.extend(key);
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let owned = |x: &str| x.to_owned();
    Ok(match s.as_slice() {
        [l] if is(l, "lists") => Resource::TodoLists,
        [l, id] if is(l, "lists") => Resource::TodoList(owned(id)),
        [l, list, t] if is(l, "lists") && is(t, "tasks") => Resource::Tasks(owned(list)),
        [l, list, t, d] if is(l, "lists") && is(t, "tasks") && is_delta(d) => Resource::TasksDelta(owned(list)),
        [l, list, t, id] if is(l, "lists") && is(t, "tasks") => Resource::Task { list: owned(list), id: owned(id) },
        [l, list, t, task, c, rest @ ..] if is(l, "lists") && is(t, "tasks") && is(c, "checklistItems") => {
            let id = match rest {
                [] => None,
                [id] => Some(owned(id)),
                [.., other] => return Err(not_found_segment(other)),
            };
            Resource::ChecklistItems { list: owned(list), task: owned(task), id }
        }
        [] => {
            return Err(GraphError::bad_request(
                "BadRequest",
                "Reading the todo entity is not supported by this server.",
            ))
        }
        [.., other] => return Err(not_found_segment(other)),
    })
}

/// `delta`, `delta()` and `microsoft.graph.delta` all name the delta function.
fn is_delta(seg: &str) -> bool {
    let name = seg.strip_suffix("()").unwrap_or(seg);
    let name = strip_prefix_ignore_ascii_case(name, "microsoft.graph.").unwrap_or(name);
    is(name, "delta")
}

/// Which rendition of a photo, and whether its bytes (`$value`) or its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoPath {
    /// `photos`: the list of sizes.
    Sizes,
    /// `photo` (size `None`) or `photos/{size}`.
    One { size: Option<String>, value: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphPath {
    pub owner: Owner,
    pub resource: Resource,
    /// `.../$count`: the number of items in the collection `resource` names. Everything else
    /// (who may read it, which mailbox) is decided as for listing the collection.
    pub count: bool,
}

fn not_found_segment(seg: &str) -> GraphError {
    GraphError::bad_request("BadRequest", format!("Resource not found for the segment '{seg}'."))
}

/// Splits `name('key')` into `("name", Some("key"))`.
pub(crate) fn split_key(seg: &str) -> GraphResult<(&str, Option<String>)> {
    match seg.find('(') {
        None => Ok((seg, None)),
        Some(open) => {
            let (name, rest) = seg.split_at(open);
            let inner =
                rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(|| not_found_segment(seg))?;
            let key = inner
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .map(|k| k.replace("''", "'"))
                .unwrap_or_else(|| inner.to_owned());
            Ok((name, Some(key)))
        }
    }
}

fn is(seg: &str, name: &str) -> bool {
    seg.eq_ignore_ascii_case(name)
}

fn is_permanent_delete(seg: &str) -> bool {
    is(seg, "permanentDelete") || is(seg, "microsoft.graph.permanentDelete")
}

/// Percent-decodes a path segment.
pub(crate) fn decode(seg: &str) -> GraphResult<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => return Err(GraphError::bad_request("BadRequest", "The request URL is malformed.")),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| GraphError::bad_request("BadRequest", "The request URL is malformed."))
}

impl Resource {
    /// Collections that answer `/$count`.
    fn is_countable(&self) -> bool {
        matches!(
            self,
            Resource::Contacts(_)
                | Resource::Folders(_)
                | Resource::Categories
                | Resource::Messages(_)
                | Resource::Events
                | Resource::Tasks(_)
                | Resource::ContactExtensions { extension: None, .. }
        )
    }
}

/// Parses the part of the path after `/v1.0/`.
pub fn parse(path: &str) -> GraphResult<GraphPath> {
    let mut segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(decode).collect::<GraphResult<_>>()?;
    // `$count` closes a collection's path; anywhere else it is no segment Rolo knows.
    let count = segs.len() > 2 && segs.last().is_some_and(|s| is(s, "$count"));
    if count {
        segs.pop();
    }
    let mut parsed = parse_segments(&segs)?;
    if count {
        if !parsed.resource.is_countable() {
            return Err(not_found_segment("$count"));
        }
        parsed.count = true;
    }
    Ok(parsed)
}

fn parse_segments(segs: &[String]) -> GraphResult<GraphPath> {
    let mut it = segs.iter().map(String::as_str).peekable();
    let first = it.next().ok_or_else(|| GraphError::bad_request("BadRequest", "Invalid request."))?;
    let (name, key) = split_key(first)?;
    let owner = if is(name, "me") && key.is_none() {
        Owner::Me
    } else if is(name, "users") {
        match key {
            Some(k) => Owner::User(k),
            None => Owner::User(it.next().ok_or_else(|| not_found_segment("users"))?.to_owned()),
        }
    } else {
        return Err(not_found_segment(first));
    };
    let seg = it
        .next()
        .ok_or_else(|| GraphError::bad_request("BadRequest", "Reading a user is not supported by this server."))?;
    let (name, key) = split_key(seg)?;
    let rest: Vec<&str> = it.collect();
    let resource = if is(name, "outlook") && key.is_none() {
        match rest.split_first() {
            Some((seg, more)) => {
                let (name, key) = split_key(seg)?;
                if !is(name, "masterCategories") {
                    return Err(not_found_segment(seg));
                }
                match (key, more) {
                    (None, []) => Resource::Categories,
                    (None, [id]) => Resource::Category((*id).to_owned()),
                    (Some(k), []) => Resource::Category(k),
                    (_, [.., other]) => return Err(not_found_segment(other)),
                }
            }
            None => {
                return Err(GraphError::bad_request(
                    "BadRequest",
                    "Reading outlook settings is not supported by this server.",
                ))
            }
        }
    } else if is(name, "photo") || is(name, "photos") {
        Resource::UserPhoto(photo_tail(seg, &rest)?)
    } else if is(name, "contacts") {
        contact_tail(FolderPath::Default, key, &rest)?
    } else if is(name, "messages") {
        message_tail(None, key, &rest)?
    } else if is(name, "mailFolders") {
        let (folder, rest) = match (key, rest.split_first()) {
            (Some(k), _) => (k, &rest[..]),
            (None, Some((f, more))) => ((*f).to_owned(), more),
            (None, None) => return Err(not_found_segment(seg)),
        };
        let Some((messages, more)) = rest.split_first() else {
            return Err(GraphError::bad_request("BadRequest", "Reading mail folders is not supported by this server."));
        };
        let (mname, mkey) = split_key(messages)?;
        if !is(mname, "messages") {
            return Err(not_found_segment(messages));
        }
        message_tail(Some(folder), mkey, more)?
    } else if (is(name, "sendMail") || is(name, "microsoft.graph.sendMail")) && key.is_none() && rest.is_empty() {
        Resource::SendMail
    } else if is(name, "people") && key.is_none() && rest.is_empty() {
        Resource::People
    } else if is(name, "events") {
        match item_tail(key, &rest)? {
            None => Resource::Events,
            Some(id) => Resource::Event(id),
        }
    } else if is(name, "todo") && key.is_none() {
        todo_tail(&rest)?
    } else if is(name, "contactFolders") {
        match key {
            None if rest.is_empty() => Resource::Folders(FolderPath::Default),
            None if rest.len() == 1 && is_delta(rest[0]) => Resource::FoldersDelta,
            None => folder_tail(vec![rest[0].to_owned()], &rest[1..])?,
            Some(k) => folder_tail(vec![k], &rest)?,
        }
    } else {
        return Err(not_found_segment(seg));
    };
    Ok(GraphPath { owner, resource, count: false })
}

/// After `contacts` (with an optional key).
fn contact_tail(folder: FolderPath, key: Option<String>, rest: &[&str]) -> GraphResult<Resource> {
    let (id, rest) = match key {
        Some(k) => (Some(k), rest),
        None => match rest.split_first() {
            Some((id, rest)) => (Some((*id).to_owned()), rest),
            None => (None, rest),
        },
    };
    match (id, rest) {
        (None, _) => Ok(Resource::Contacts(folder)),
        (Some(id), []) if is_delta(&id) => Ok(Resource::ContactsDelta(folder)),
        (Some(id), []) if is(&id, "$value") => Ok(Resource::ContactFiles(folder)),
        (Some(id), [v]) if is(v, "$value") => Ok(Resource::ContactFile { folder, id }),
        (Some(id), []) => Ok(Resource::Contact { folder, id, permanent_delete: false }),
        (Some(id), [action]) if is_permanent_delete(action) => {
            Ok(Resource::Contact { folder, id, permanent_delete: true })
        }
        (Some(id), [first, more @ ..]) if is(split_key(first)?.0, "extensions") => {
            let (_, key) = split_key(first)?;
            let extension = match (key, more) {
                (Some(k), []) => Some(k),
                (None, []) => None,
                (None, [name]) => Some((*name).to_owned()),
                (_, [.., other]) => return Err(not_found_segment(other)),
            };
            Ok(Resource::ContactExtensions { folder, id, extension })
        }
        (Some(id), [first, more @ ..]) if is_photo_segment(first) => {
            Ok(Resource::ContactPhoto { folder, id, photo: photo_tail(first, more)? })
        }
        (Some(_), [other, ..]) => Err(not_found_segment(other)),
    }
}

fn is_photo_segment(seg: &str) -> bool {
    let name = seg.split('(').next().unwrap_or(seg);
    is(name, "photo") || is(name, "photos")
}

/// `photo`, `photo/$value`, `photos`, `photos/{size}`, `photos('{size}')/$value`...: `seg` is the
/// `photo`/`photos` segment, `rest` what follows it.
fn photo_tail(seg: &str, rest: &[&str]) -> GraphResult<PhotoPath> {
    let (name, key) = split_key(seg)?;
    let is_value = |s: &&str| s.eq_ignore_ascii_case("$value");
    if is(name, "photo") && key.is_none() {
        return match rest {
            [] => Ok(PhotoPath::One { size: None, value: false }),
            [v] if is_value(v) => Ok(PhotoPath::One { size: None, value: true }),
            [other, ..] => Err(not_found_segment(other)),
        };
    }
    let (size, rest) = match (key, rest) {
        (Some(k), rest) => (Some(k), rest),
        (None, []) => return Ok(PhotoPath::Sizes),
        (None, [size, rest @ ..]) => (Some((*size).to_owned()), rest),
    };
    match rest {
        [] => Ok(PhotoPath::One { size, value: false }),
        [v] if is_value(v) => Ok(PhotoPath::One { size, value: true }),
        [other, ..] => Err(not_found_segment(other)),
    }
}

/// After a folder id: more `childFolders`, `contacts`, an action, or nothing.
fn folder_tail(mut chain: Vec<String>, rest: &[&str]) -> GraphResult<Resource> {
    let mut i = 0;
    loop {
        let Some(seg) = rest.get(i) else {
            return Ok(Resource::Folder { chain, permanent_delete: false });
        };
        let (name, key) = split_key(seg)?;
        if is(name, "childFolders") {
            match key {
                Some(k) => {
                    chain.push(k);
                    i += 1;
                }
                None => match rest.get(i + 1) {
                    None => return Ok(Resource::Folders(FolderPath::Chain(chain))),
                    Some(id) => {
                        chain.push((*id).to_owned());
                        i += 2;
                    }
                },
            }
        } else if is(name, "contacts") {
            return contact_tail(FolderPath::Chain(chain), key, &rest[i + 1..]);
        } else if is(name, "permissions") {
            let id = match (key, rest.get(i + 1)) {
                (Some(k), None) => Some(k),
                (None, Some(id)) if i + 2 == rest.len() => Some(decode(id)?),
                (None, None) => None,
                _ => return Err(not_found_segment(seg)),
            };
            return Ok(Resource::FolderPermissions { chain, id });
        } else if is(name, "import") && key.is_none() && i + 1 == rest.len() {
            return Ok(Resource::FolderImport { chain });
        } else if is_permanent_delete(seg) && i + 1 == rest.len() {
            return Ok(Resource::Folder { chain, permanent_delete: true });
        } else {
            return Err(not_found_segment(seg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(ids: &[&str]) -> FolderPath {
        FolderPath::Chain(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn parses_the_contacts_url_space() {
        assert_eq!(parse("me/contacts").unwrap().resource, Resource::Contacts(FolderPath::Default));
        assert_eq!(parse("ME/Contacts").unwrap().resource, Resource::Contacts(FolderPath::Default));
        assert_eq!(
            parse("users/a@b.c/contacts/X1/permanentDelete").unwrap(),
            GraphPath {
                owner: Owner::User("a@b.c".into()),
                resource: Resource::Contact { folder: FolderPath::Default, id: "X1".into(), permanent_delete: true },
                count: false,
            }
        );
        assert_eq!(
            parse("me/contactfolders/F1/childFolders/F2/childfolders/F3/contacts/C").unwrap().resource,
            Resource::Contact { folder: chain(&["F1", "F2", "F3"]), id: "C".into(), permanent_delete: false }
        );
        assert_eq!(parse("me/contactFolders").unwrap().resource, Resource::Folders(FolderPath::Default));
        assert_eq!(parse("me/contactFolders/F1/childFolders").unwrap().resource, Resource::Folders(chain(&["F1"])));
        assert_eq!(
            parse("me/contactFolders('F1')/permanentDelete").unwrap().resource,
            Resource::Folder { chain: vec!["F1".into()], permanent_delete: true }
        );
        assert_eq!(
            parse("users('u1')/contacts('C''1')").unwrap(),
            GraphPath {
                owner: Owner::User("u1".into()),
                resource: Resource::Contact { folder: FolderPath::Default, id: "C'1".into(), permanent_delete: false },
                count: false,
            }
        );
    }

    #[test]
    fn parses_extension_paths() {
        assert_eq!(
            parse("me/contacts/C/extensions").unwrap().resource,
            Resource::ContactExtensions { folder: FolderPath::Default, id: "C".into(), extension: None }
        );
        assert_eq!(
            parse("me/contactFolders/F/contacts/C/Extensions/Com.Contoso.X").unwrap().resource,
            Resource::ContactExtensions {
                folder: chain(&["F"]),
                id: "C".into(),
                extension: Some("Com.Contoso.X".into())
            }
        );
        assert_eq!(
            parse("me/contacts/C/extensions('Com.A')").unwrap().resource,
            Resource::ContactExtensions {
                folder: FolderPath::Default,
                id: "C".into(),
                extension: Some("Com.A".into())
            }
        );
        assert!(parse("me/contacts/C/extensions/A/b").is_err());
    }

    #[test]
    fn parses_folder_permissions() {
        let p = parse("me/contactFolders/F/permissions").unwrap();
        assert_eq!(p.resource, Resource::FolderPermissions { chain: vec!["F".into()], id: None });
        let p = parse("me/contactFolders('F')/childFolders/G/permissions/P").unwrap();
        assert_eq!(
            p.resource,
            Resource::FolderPermissions { chain: vec!["F".into(), "G".into()], id: Some("P".into()) }
        );
        assert!(parse("me/contactFolders/F/permissions/P/x").is_err());
    }

    #[test]
    fn parses_master_categories() {
        assert_eq!(parse("me/outlook/masterCategories").unwrap().resource, Resource::Categories);
        assert_eq!(parse("users/u/Outlook/MasterCategories/abc").unwrap().resource, Resource::Category("abc".into()));
        assert_eq!(parse("me/outlook/masterCategories('abc')").unwrap().resource, Resource::Category("abc".into()));
        assert!(parse("me/outlook/masterCategories/abc/x").is_err());
        assert!(parse("me/outlook/other").is_err());
    }

    #[test]
    fn parses_messages_and_events() {
        assert_eq!(parse("me/messages").unwrap().resource, Resource::Messages(None));
        assert_eq!(parse("users/u/messages/M").unwrap().resource, Resource::Message("M".into()));
        assert_eq!(parse("me/messages('M')").unwrap().resource, Resource::Message("M".into()));
        assert_eq!(parse("me/mailFolders/Inbox/messages").unwrap().resource, Resource::Messages(Some("Inbox".into())));
        assert_eq!(parse("me/mailFolders('drafts')/messages/M").unwrap().resource, Resource::Message("M".into()));
        assert_eq!(parse("me/sendMail").unwrap().resource, Resource::SendMail);
        assert_eq!(parse("me/messages/M/send").unwrap().resource, Resource::SendDraft("M".into()));
        assert_eq!(parse("me/messages('M')/microsoft.graph.send").unwrap().resource, Resource::SendDraft("M".into()));
        assert_eq!(parse("me/events").unwrap().resource, Resource::Events);
        assert_eq!(parse("me/todo/lists").unwrap().resource, Resource::TodoLists);
        assert_eq!(parse("users/u/todo/lists('L')/tasks").unwrap().resource, Resource::Tasks("L".into()));
        assert_eq!(parse("me/todo/lists/L/tasks/delta()").unwrap().resource, Resource::TasksDelta("L".into()));
        assert_eq!(
            parse("me/todo/lists/L/tasks/T/checklistItems/C").unwrap().resource,
            Resource::ChecklistItems { list: "L".into(), task: "T".into(), id: Some("C".into()) }
        );
        assert!(parse("me/todo/lists/L/tasks/T/attachments").is_err());
        assert_eq!(parse("me/events/E").unwrap().resource, Resource::Event("E".into()));
        assert!(parse("me/events/E/x").is_err());
        assert!(parse("me/mailFolders/inbox").is_err());
    }

    #[test]
    fn parses_delta_spellings() {
        for spelling in ["delta", "delta()", "microsoft.graph.delta", "Microsoft.Graph.Delta()"] {
            assert_eq!(
                parse(&format!("me/contactFolders/F/contacts/{spelling}")).unwrap().resource,
                Resource::ContactsDelta(chain(&["F"]))
            );
            assert_eq!(parse(&format!("me/contactFolders/{spelling}")).unwrap().resource, Resource::FoldersDelta);
        }
        assert_eq!(parse("me/contacts/delta").unwrap().resource, Resource::ContactsDelta(FolderPath::Default));
    }

    #[test]
    fn parses_contact_file_paths() {
        assert_eq!(
            parse("me/contacts/C/$value").unwrap().resource,
            Resource::ContactFile { folder: FolderPath::Default, id: "C".into() }
        );
        assert_eq!(
            parse("me/contactFolders/F/contacts/$VALUE").unwrap().resource,
            Resource::ContactFiles(FolderPath::Chain(vec!["F".into()]))
        );
        assert_eq!(
            parse("me/contactFolders/F/childFolders/G/import").unwrap().resource,
            Resource::FolderImport { chain: vec!["F".into(), "G".into()] }
        );
        assert!(parse("me/contactFolders/F/import/x").is_err());
    }

    #[test]
    fn parses_photo_paths() {
        assert_eq!(
            parse("me/photo/$value").unwrap().resource,
            Resource::UserPhoto(PhotoPath::One { size: None, value: true })
        );
        assert_eq!(parse("users/u/photos").unwrap().resource, Resource::UserPhoto(PhotoPath::Sizes));
        assert_eq!(
            parse("me/photos/48x48/$value").unwrap().resource,
            Resource::UserPhoto(PhotoPath::One { size: Some("48x48".into()), value: true })
        );
        assert_eq!(
            parse("me/photos('96x96')").unwrap().resource,
            Resource::UserPhoto(PhotoPath::One { size: Some("96x96".into()), value: false })
        );
        assert_eq!(
            parse("me/contactFolders/F/contacts/C/photo").unwrap().resource,
            Resource::ContactPhoto {
                folder: chain(&["F"]),
                id: "C".into(),
                photo: PhotoPath::One { size: None, value: false }
            }
        );
        assert_eq!(
            parse("me/contacts/C/photos/120x120/$value").unwrap().resource,
            Resource::ContactPhoto {
                folder: FolderPath::Default,
                id: "C".into(),
                photo: PhotoPath::One { size: Some("120x120".into()), value: true }
            }
        );
        assert!(parse("me/photo/$value/x").is_err());
    }

    #[test]
    fn parses_count_segments() {
        let counted = |p: &str| parse(p).map(|g| (g.count, g.resource));
        assert_eq!(counted("me/contacts/$count").unwrap(), (true, Resource::Contacts(FolderPath::Default)));
        assert_eq!(counted("me/contacts/$COUNT").unwrap(), (true, Resource::Contacts(FolderPath::Default)));
        assert_eq!(
            counted("users/u/contactFolders/F/childFolders/G/contacts/$count").unwrap(),
            (true, Resource::Contacts(chain(&["F", "G"])))
        );
        assert_eq!(counted("me/contactFolders/$count").unwrap(), (true, Resource::Folders(FolderPath::Default)));
        assert_eq!(
            counted("me/contactFolders/F/childFolders/$count").unwrap(),
            (true, Resource::Folders(chain(&["F"])))
        );
        assert_eq!(counted("me/outlook/masterCategories/$count").unwrap(), (true, Resource::Categories));
        assert_eq!(counted("me/messages/$count").unwrap(), (true, Resource::Messages(None)));
        assert_eq!(
            counted("me/mailFolders/inbox/messages/$count").unwrap(),
            (true, Resource::Messages(Some("inbox".into())))
        );
        assert_eq!(counted("me/events/$count").unwrap(), (true, Resource::Events));
        assert_eq!(
            counted("me/contacts/C/extensions/$count").unwrap(),
            (true, Resource::ContactExtensions { folder: FolderPath::Default, id: "C".into(), extension: None })
        );
        assert!(!counted("me/contacts").unwrap().0);
        // Only collections have a count.
        for p in
            ["me/contacts/C/$count", "me/contactFolders/F/$count", "me/photo/$count", "me/people/$count", "me/$count"]
        {
            assert!(parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn unknown_segments_are_bad_requests() {
        assert_eq!(parse("me/mailbox").unwrap_err().message, "Resource not found for the segment 'mailbox'.");
        assert!(parse("me/contacts/C/extra").is_err());
        assert!(parse("foo").is_err());
        assert!(parse("me/contacts/%zz").is_err());
        assert!(parse("me/contacts/%").is_ok());
    }
}
