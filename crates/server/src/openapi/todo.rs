//! The Microsoft To Do routes of the route table (`super::routes`).

use super::{create, delete, get, update, Op, Query, Reply};

/// Microsoft To Do: lists, tasks (and their delta), checklist items.
pub(super) fn routes() -> Vec<(String, Vec<Op>)> {
    let list = "/todo/lists/{todoTaskList-id}";
    let task = format!("{list}/tasks/{{todoTask-id}}");
    vec![
        (
            "/todo/lists".to_owned(),
            vec![
                get("List the task lists", Query::None, Reply::Collection("todoTaskList")),
                create("Create a task list", "todoTaskList"),
            ],
        ),
        (
            list.to_owned(),
            vec![
                get("Get a task list", Query::None, Reply::Entity("todoTaskList")),
                update("Rename a task list", "todoTaskList"),
                delete("Delete a task list and its tasks"),
            ],
        ),
        (
            format!("{list}/tasks"),
            vec![
                get("List the tasks of a list", Query::List, Reply::Collection("todoTask")),
                create("Create a task", "todoTask"),
            ],
        ),
        (
            format!("{list}/tasks/delta()"),
            vec![get("The list's tasks changed since a delta token", Query::Delta, Reply::Delta("todoTask"))],
        ),
        (
            task.clone(),
            vec![
                get("Get a task", Query::Select, Reply::Entity("todoTask")),
                update("Update a task", "todoTask"),
                delete("Delete a task"),
            ],
        ),
        (
            format!("{task}/checklistItems"),
            vec![
                get("List a task's checklist items", Query::None, Reply::Collection("checklistItem")),
                create("Add a checklist item", "checklistItem"),
            ],
        ),
        (
            format!("{task}/checklistItems/{{checklistItem-id}}"),
            vec![
                get("Get a checklist item", Query::None, Reply::Entity("checklistItem")),
                update("Update a checklist item", "checklistItem"),
                delete("Delete a checklist item"),
            ],
        ),
    ]
}
