-- Every new operator token names the person behind it, whatever its role: that person's termination revokes the
-- tokens that name them (since 0020 whichever way they are terminated: admin API, CLI, site file, HR feed), and one
-- that names nobody would outlive its holder (an admin token kept full access after HR terminated them). Tokens stored
-- before this rule are refused (401 token_without_person; ApiTokens.WithoutPerson) and named in a warning at every
-- start until they are revoked and issued again with --person; a trigger and not a CHECK all the same (a rebuilt
-- table with a CHECK would refuse the rows already there, which are kept so that the warning can name them). A
-- migration that rebuilds operator_tokens drops this trigger and must create it again.
CREATE TRIGGER operator_tokens_name_a_person BEFORE INSERT ON operator_tokens
WHEN NEW.person_id IS NULL
BEGIN
    SELECT RAISE(ABORT, 'an operator token must name its person');
END;
