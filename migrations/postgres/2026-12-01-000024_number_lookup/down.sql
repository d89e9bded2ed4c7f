DROP INDEX messages_report_ref_no;
