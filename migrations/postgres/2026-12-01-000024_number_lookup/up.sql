-- Lookup by number: 呈报文号 (留言文号, 平台编号 and 档号 are indexed already).
CREATE INDEX messages_report_ref_no ON messages(report_ref_no);
