//! The storage role `Groups`.

use async_trait::async_trait;
use rolo_domain::group::{Group, Thread};
use rolo_domain::mail::Item;
use rolo_domain::GraphResult;

use crate::query::{ListQuery, Page};
use crate::{Mailbox, User};

/// A new Microsoft 365 group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub display_name: String,
    pub mail: String,
    pub description: String,
    /// `Public` or `Private`.
    pub visibility: String,
    /// The members' user ids.
    pub members: Vec<String>,
}

/// Who writes a post: a member (whose name and address the post carries), or an app (the post
/// is then from the group itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAuthor {
    pub user_id: Option<String>,
    pub name: String,
    pub address: String,
}

/// Microsoft 365 groups and their conversations. A group is a directory object whose mailbox
/// (kind [`crate::MailboxKind::Group`], as a shared mailbox is a user with a flag) holds its
/// master categories, its threads and its posts; posts are items of kind `Post` filed under
/// their thread, so they share the items' filters. A post delivered to a group makes its author
/// a correspondent of every other member, for People's ranking.
#[async_trait]
pub trait Groups: Send + Sync {
    /// Creates a group, its mailbox and its membership; the mail address must be new.
    async fn create_group(&self, group: NewGroup) -> GraphResult<Group>;
    async fn list_groups(&self) -> GraphResult<Vec<Group>>;
    async fn get_group(&self, id: &str) -> GraphResult<Option<Group>>;
    /// The group's members, by display name.
    async fn group_members(&self, group_id: &str) -> GraphResult<Vec<User>>;
    /// The groups a user is a member of.
    async fn member_of(&self, user_id: &str) -> GraphResult<Vec<Group>>;
    async fn is_member(&self, group_id: &str, user_id: &str) -> GraphResult<bool>;
    /// The group's threads, the most recently delivered first.
    async fn threads(&self, group: &Mailbox) -> GraphResult<Vec<Thread>>;
    async fn get_thread(&self, group: &Mailbox, id: &str) -> GraphResult<Option<Thread>>;
    /// Starts a thread with its first post, in `conversation` or (`None`) a new conversation.
    async fn start_thread(
        &self,
        group: &Mailbox,
        conversation: Option<&str>,
        topic: &str,
        post: serde_json::Map<String, serde_json::Value>,
        author: &PostAuthor,
    ) -> GraphResult<(Thread, Item)>;
    /// Adds a post to a thread (a reply to the thread or to one of its posts).
    async fn add_post(
        &self,
        group: &Mailbox,
        thread: &str,
        post: serde_json::Map<String, serde_json::Value>,
        author: &PostAuthor,
    ) -> GraphResult<Item>;
    /// A thread's posts (404 when the thread is not there).
    async fn list_posts(&self, group: &Mailbox, thread: &str, query: &ListQuery) -> GraphResult<Page<Item>>;
    async fn get_post(&self, group: &Mailbox, thread: &str, id: &str) -> GraphResult<Option<Item>>;
}
