-- An operator token may be limited to one site (NULL: every site). An approver approves visits only for the site
-- their token names: "an approver for that site".
ALTER TABLE operator_tokens ADD COLUMN site_id TEXT;
