//! The Microsoft 365 group routes of the route table (`super::routes`): groups, members,
//! memberships, and a group's conversations, threads and posts (`crate::groups`).

use super::{create, get, op, Area, Body, Op, Query, Reply, Route};

fn reply(summary: &'static str) -> Op {
    op("post", summary, Query::None, Body::Reply, Reply::Accepted)
}

/// A thread's routes under `thread` (reached from the group or from its conversation).
fn thread_routes(thread: &str) -> Vec<(String, Vec<Op>)> {
    let post = format!("{thread}/posts/{{post-id}}");
    vec![
        (thread.to_owned(), vec![get("Get a thread", Query::None, Reply::Entity("conversationThread"))]),
        (format!("{thread}/reply"), vec![reply("Reply to a thread")]),
        (format!("{thread}/posts"), vec![get("List a thread's posts", Query::List, Reply::Collection("post"))]),
        (post.clone(), vec![get("Get a post", Query::Select, Reply::Entity("post"))]),
        (format!("{post}/reply"), vec![reply("Reply to a post")]),
    ]
}

pub(super) fn routes() -> Vec<Route> {
    let group = "/groups/{group-id}";
    let conversation = format!("{group}/conversations/{{conversation-id}}");
    let mut r: Vec<(String, Vec<Op>)> = vec![
        ("/groups".to_owned(), vec![get("List the Microsoft 365 groups", Query::None, Reply::Collection("group"))]),
        (group.to_owned(), vec![get("Get a group", Query::None, Reply::Entity("group"))]),
        (
            format!("{group}/members"),
            vec![get("List a group's members", Query::None, Reply::Collection("directoryObject"))],
        ),
        (
            format!("{group}/conversations"),
            vec![
                get("List a group's conversations", Query::None, Reply::Collection("conversation")),
                create("Start a conversation", "conversation"),
            ],
        ),
        (conversation.clone(), vec![get("Get a conversation", Query::None, Reply::Entity("conversation"))]),
        (
            format!("{conversation}/threads"),
            vec![
                get("List a conversation's threads", Query::None, Reply::Collection("conversationThread")),
                create("Start a thread in a conversation", "conversationThread"),
            ],
        ),
        (
            format!("{group}/threads"),
            vec![
                get("List a group's threads", Query::None, Reply::Collection("conversationThread")),
                create("Start a thread (and its conversation)", "conversationThread"),
            ],
        ),
    ];
    r.extend(thread_routes(&format!("{conversation}/threads/{{conversationThread-id}}")));
    r.extend(thread_routes(&format!("{group}/threads/{{conversationThread-id}}")));
    for owner in ["/me", "/users/{user-id}"] {
        r.push((
            format!("{owner}/memberOf"),
            vec![get("The groups the user is a member of", Query::None, Reply::Collection("directoryObject"))],
        ));
    }
    r.into_iter().map(|(path, ops)| Route { path, area: Area::Groups, ops }).collect()
}
