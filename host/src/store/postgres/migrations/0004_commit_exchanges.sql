-- A group of exchanges' commits in one call: one round trip, one
-- transaction, one WAL flush. The host's group commit hands over every
-- exchange that waited while the previous group was written. Exchanges of
-- one policy were serialized by its row lock, each holding it through its
-- own WAL flush; a group takes the lock once.
--
-- Each exchange's outcome is the one trustpub_commit_exchange gives: 'ok',
-- 'replay', 'not-found' (the policy was deleted meanwhile) or
-- 'pin-conflict', and after any answer but 'ok' nothing of that exchange is
-- written. Every exchange is checked before anything of it is written, so
-- no exception block is needed: one would give each exchange a
-- subtransaction of its own.
--
-- Locks are taken in one order on every host, so two hosts' groups cannot
-- deadlock: first all of the group's policy rows, by id; then token ids, in
-- the order the host sorted the group (issuer, then token id).
--
-- One array per column, exchange i at index i. The pins of exchange i are
-- p_pin_count[i] consecutive entries of p_pin_names and p_pin_values, sorted
-- by name in byte order (as the host sorts them).
CREATE FUNCTION trustpub_commit_exchanges(
    p_issuer TEXT[], p_token_id TEXT[], p_keep_until BIGINT[], p_policy_id BIGINT[],
    p_pin_count INT[], p_pin_names TEXT[], p_pin_values TEXT[],
    k_hash TEXT[], k_username TEXT[], k_owner TEXT[], k_scopes TEXT[], k_policy_id BIGINT[],
    k_provider TEXT[], k_digest TEXT[], k_created_at BIGINT[], k_expires_at BIGINT[],
    a_at BIGINT[], a_provider TEXT[], a_username TEXT[], a_outcome TEXT[], a_detail TEXT[],
    a_policy_id BIGINT[], a_digest TEXT[], a_subject TEXT[], a_client_addr TEXT[],
    a_check TEXT[], a_near_misses TEXT[]
) RETURNS TEXT[] LANGUAGE plpgsql AS $$
DECLARE
    outcomes TEXT[] := '{}';
    first_pin INT := 1;
    wanted_names TEXT[];
    wanted_values TEXT[];
    current_names TEXT[];
    current_values TEXT[];
BEGIN
    PERFORM 1 FROM policies WHERE id = ANY (p_policy_id) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. COALESCE(cardinality(p_issuer), 0) LOOP
        wanted_names := p_pin_names[first_pin : first_pin + p_pin_count[i] - 1];
        wanted_values := p_pin_values[first_pin : first_pin + p_pin_count[i] - 1];
        first_pin := first_pin + p_pin_count[i];

        -- A replayed token before anything about its policy, as SQLite says.
        IF EXISTS (SELECT 1 FROM used_token_ids
                    WHERE issuer = p_issuer[i] AND token_id = p_token_id[i]) THEN
            outcomes := outcomes || 'replay'::TEXT;
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM policies WHERE id = p_policy_id[i]) THEN
            outcomes := outcomes || 'not-found'::TEXT;
            CONTINUE;
        END IF;
        current_names := '{}';
        IF p_pin_count[i] > 0 THEN
            SELECT COALESCE(array_agg(name ORDER BY name COLLATE "C"), '{}'),
                   COALESCE(array_agg(value ORDER BY name COLLATE "C"), '{}')
              INTO current_names, current_values
              FROM policy_pins WHERE policy_id = p_policy_id[i];
            IF cardinality(current_names) > 0
               AND (current_names <> wanted_names OR current_values <> wanted_values) THEN
                outcomes := outcomes || 'pin-conflict'::TEXT;
                CONTINUE;
            END IF;
        END IF;
        -- Another host's transaction inserting the same id is not visible
        -- above: this waits for it to end, and finds the id taken if it
        -- committed.
        INSERT INTO used_token_ids (issuer, token_id, keep_until)
            VALUES (p_issuer[i], p_token_id[i], p_keep_until[i])
            ON CONFLICT (issuer, token_id) DO NOTHING;
        IF NOT FOUND THEN
            outcomes := outcomes || 'replay'::TEXT;
            CONTINUE;
        END IF;
        IF p_pin_count[i] > 0 AND cardinality(current_names) = 0 THEN
            INSERT INTO policy_pins (policy_id, name, value)
                SELECT p_policy_id[i], u.n, u.v FROM unnest(wanted_names, wanted_values) AS u(n, v);
        END IF;
        -- Once per second at most: a group of one policy's exchanges would
        -- otherwise leave a dead row version each.
        UPDATE policies SET last_used_at = k_created_at[i]
         WHERE id = p_policy_id[i] AND last_used_at IS DISTINCT FROM k_created_at[i];
        INSERT INTO api_keys (hash, username, owner, scopes, policy_id, provider,
                              evaluator_digest, created_at, expires_at)
            VALUES (k_hash[i], k_username[i], k_owner[i], k_scopes[i], k_policy_id[i],
                    k_provider[i], k_digest[i], k_created_at[i], k_expires_at[i]);
        INSERT INTO audit_events (at, provider, username, outcome, detail, policy_id,
                                  evaluator_digest, subject, client_addr, check_name,
                                  near_misses)
            VALUES (a_at[i], a_provider[i], a_username[i], a_outcome[i], a_detail[i],
                    a_policy_id[i], a_digest[i], a_subject[i], a_client_addr[i], a_check[i],
                    a_near_misses[i]);
        outcomes := outcomes || 'ok'::TEXT;
    END LOOP;
    RETURN outcomes;
END;
$$;
