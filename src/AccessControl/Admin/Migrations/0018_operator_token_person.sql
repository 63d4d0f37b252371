-- Every new operator token names the person behind it, whatever its role: the HR feed's termination revokes the
-- tokens that name the leaver, and one that names nobody outlived its holder (an admin token kept full access after
-- HR terminated them). Tokens stored before this rule keep working and are named in a warning at every start until
-- they are revoked and issued again with --person, so a trigger and not a CHECK (a rebuilt table with a CHECK would
-- refuse the rows already there). A migration that rebuilds operator_tokens drops this trigger and must create it again.
CREATE TRIGGER operator_tokens_name_a_person BEFORE INSERT ON operator_tokens
WHEN NEW.person_id IS NULL
BEGIN
    SELECT RAISE(ABORT, 'an operator token must name its person');
END;
