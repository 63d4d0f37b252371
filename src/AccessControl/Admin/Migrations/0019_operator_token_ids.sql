-- A token gets an id, so that a list can name it (token list, GET /api/v1/tokens) without the token or any hash of
-- it: 'tok-' and 16 random hex digits, given here to the tokens already stored and by a trigger to every new row (so
-- no writer can leave one out). And who revoked a token: NULL for those revoked before this column (the entry log's
-- operator_token.revoke row says who). A migration that rebuilds operator_tokens drops this trigger and must create it again.
ALTER TABLE operator_tokens ADD COLUMN id TEXT;
ALTER TABLE operator_tokens ADD COLUMN revoked_by TEXT;
UPDATE operator_tokens SET id = 'tok-' || lower(hex(randomblob(8)));
CREATE UNIQUE INDEX ux_operator_tokens_id ON operator_tokens (id);
CREATE TRIGGER operator_tokens_get_an_id AFTER INSERT ON operator_tokens
WHEN NEW.id IS NULL
BEGIN
    UPDATE operator_tokens SET id = 'tok-' || lower(hex(randomblob(8))) WHERE token_hash = NEW.token_hash;
END;
