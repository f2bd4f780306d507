//! Where a To Do task's filterable and sortable properties live in SQL (`Entity::Task`).

use super::Prop;
use crate::sql::Dialect;

/// The column (or expression) of a task property, by its canonical name.
pub(super) fn prop(dialect: Dialect, name: &str) -> Option<Prop> {
    Some(match name {
        "title" => Prop::Text { key: "t.title_key".into(), raw: dialect.json_text("t.doc", "title") },
        // Enumerations, stored folded: `status eq 'completed'` matches whatever case.
        "status" => Prop::Text { key: "t.status_key".into(), raw: "t.status_key".into() },
        "importance" => Prop::Text { key: "t.importance_key".into(), raw: "t.importance_key".into() },
        // Unset dates are NULL; they sort first ascending, as an empty string.
        "dueDateTime/dateTime" => Prop::Timestamp("COALESCE(t.due_at, '')".into()),
        "startDateTime/dateTime" => Prop::Timestamp("COALESCE(t.start_at, '')".into()),
        "reminderDateTime/dateTime" => Prop::Timestamp("COALESCE(t.reminder_at, '')".into()),
        "completedDateTime/dateTime" => Prop::Timestamp("COALESCE(t.completed_at, '')".into()),
        "createdDateTime" => Prop::Timestamp("t.created_at".into()),
        "lastModifiedDateTime" => Prop::Timestamp("t.modified_at".into()),
        "isReminderOn" => Prop::Bool("t.is_reminder_on"),
        "id" => Prop::Id("t.id".into()),
        "categories" => Prop::Categories,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::query::{Compiler, Entity};
    use crate::sql::Dialect;

    #[test]
    fn compiles_task_filters() {
        let mut c = Compiler::new(Dialect::Sqlite, Entity::Task, "mb");
        let e = rolo_odata::parse_filter("categories/any(c:c eq 'Red') and Status eq 'Completed'").unwrap();
        let sql = c.filter(&e).unwrap();
        assert!(sql.contains("SELECT x.item_id FROM task_categories"), "{sql}");
        assert!(sql.contains("t.status_key = ?"), "{sql}");
        let e = rolo_odata::parse_filter("dueDateTime/dateTime lt '2024-06-01T00:00:00'").unwrap();
        assert_eq!(c.filter(&e).unwrap(), "COALESCE(t.due_at, '') < ?");
        assert!(c.filter(&rolo_odata::parse_filter("subject eq 'x'").unwrap()).is_err());
    }
}
