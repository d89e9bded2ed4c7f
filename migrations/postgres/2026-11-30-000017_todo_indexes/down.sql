DROP INDEX messages_owner_todo;
DROP INDEX messages_handling_todo;
DROP INDEX messages_category_state;
