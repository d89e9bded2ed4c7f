DROP INDEX messages_handling_id;
DROP INDEX messages_category_id;
DROP INDEX messages_state_id;
