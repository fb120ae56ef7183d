-- An exchange's commit as one call: one round trip to the server instead of
-- a dozen (begin, five statements each prepared then run, commit). The
-- invariants are the ones the host checked statement by statement before:
-- the token id is taken first (waiting for a concurrent insert of the same
-- id to end), then the policy row is locked before its pins are read, pins
-- are written once, and nothing at all is written unless the key is.
--
-- Returns 'ok', 'replay', 'not-found' (the policy was deleted meanwhile) or
-- 'pin-conflict'; after any answer but 'ok' nothing was written.
CREATE FUNCTION trustpub_commit_exchange(
    p_issuer TEXT, p_token_id TEXT, p_keep_until BIGINT, p_policy_id BIGINT,
    p_pin_names TEXT[], p_pin_values TEXT[],
    k_hash TEXT, k_username TEXT, k_owner TEXT, k_scopes TEXT, k_policy_id BIGINT,
    k_provider TEXT, k_digest TEXT, k_created_at BIGINT, k_expires_at BIGINT,
    a_at BIGINT, a_provider TEXT, a_username TEXT, a_outcome TEXT, a_detail TEXT,
    a_policy_id BIGINT, a_digest TEXT, a_subject TEXT, a_client_addr TEXT,
    a_check TEXT, a_near_misses TEXT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    current_names TEXT[];
    current_values TEXT[];
BEGIN
    -- The block's exception handler undoes everything in it.
    BEGIN
        INSERT INTO used_token_ids (issuer, token_id, keep_until)
            VALUES (p_issuer, p_token_id, p_keep_until)
            ON CONFLICT (issuer, token_id) DO NOTHING;
        IF NOT FOUND THEN
            RETURN 'replay';
        END IF;
        PERFORM 1 FROM policies WHERE id = p_policy_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'policy % is gone', p_policy_id USING ERRCODE = 'TP404';
        END IF;
        IF cardinality(p_pin_names) > 0 THEN
            -- Byte order, as the host sorts the wanted pins.
            SELECT COALESCE(array_agg(name ORDER BY name COLLATE "C"), '{}'),
                   COALESCE(array_agg(value ORDER BY name COLLATE "C"), '{}')
              INTO current_names, current_values
              FROM policy_pins WHERE policy_id = p_policy_id;
            IF cardinality(current_names) = 0 THEN
                INSERT INTO policy_pins (policy_id, name, value)
                    SELECT p_policy_id, n, v FROM unnest(p_pin_names, p_pin_values) AS u(n, v);
            ELSIF current_names <> p_pin_names OR current_values <> p_pin_values THEN
                RAISE EXCEPTION 'policy % is pinned to other ids', p_policy_id
                    USING ERRCODE = 'TP409';
            END IF;
        END IF;
        UPDATE policies SET last_used_at = k_created_at WHERE id = p_policy_id;
        INSERT INTO api_keys (hash, username, owner, scopes, policy_id, provider,
                              evaluator_digest, created_at, expires_at)
            VALUES (k_hash, k_username, k_owner, k_scopes, k_policy_id, k_provider, k_digest,
                    k_created_at, k_expires_at);
        INSERT INTO audit_events (at, provider, username, outcome, detail, policy_id,
                                  evaluator_digest, subject, client_addr, check_name,
                                  near_misses)
            VALUES (a_at, a_provider, a_username, a_outcome, a_detail, a_policy_id, a_digest,
                    a_subject, a_client_addr, a_check, a_near_misses);
        RETURN 'ok';
    EXCEPTION
        WHEN SQLSTATE 'TP404' THEN
            RETURN 'not-found';
        WHEN SQLSTATE 'TP409' THEN
            RETURN 'pin-conflict';
    END;
END;
$$;
