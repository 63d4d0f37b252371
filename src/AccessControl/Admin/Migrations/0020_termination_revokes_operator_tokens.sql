-- A person's termination revokes their operator tokens in the same statement, whichever way they are terminated (the
-- admin API, the CLI, a site file, the HR feed). Before, only the HR feed revoked them: terminated any other way, the
-- tokens were only refused while the status said so, and worked again if the person was ever set back to active (a
-- rehire gets new tokens, not a leaver's old ones). Who and when are the person's change's (people.updated_by/at),
-- whose audit row is in the entry log. The tokens of people terminated before this migration are revoked here too.
CREATE TRIGGER people_termination_revokes_operator_tokens AFTER UPDATE OF status ON people
WHEN NEW.status = 'terminated' AND OLD.status IS NOT 'terminated'
BEGIN
    UPDATE operator_tokens SET revoked_at = NEW.updated_at, revoked_by = NEW.updated_by
    WHERE person_id = NEW.id AND revoked_at IS NULL;
END;

UPDATE operator_tokens
SET revoked_at = (SELECT p.updated_at FROM people p WHERE p.id = operator_tokens.person_id),
    revoked_by = (SELECT p.updated_by FROM people p WHERE p.id = operator_tokens.person_id)
WHERE revoked_at IS NULL
  AND person_id IN (SELECT id FROM people WHERE status = 'terminated');
