DROP INDEX audit_events_kind_time;
DROP INDEX submissions_status_received;
DROP TABLE console_oidc_logins;
DROP TABLE console_proposals;
DROP TABLE console_claims;
DROP TABLE console_sessions;
DROP TABLE console_users;
