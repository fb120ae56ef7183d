-- A used token id is kept until a time the exchange computes — the token's
-- exp plus how long past it its provider accepts it, plus a margin — rather
-- than until its exp plus the global clock skew, which a provider with a
-- larger skew outlived (a token replayed after a purge minted a second key).
-- Ids recorded before are kept a day past their exp, more than any skew
-- they could have been accepted with.
ALTER TABLE used_token_ids RENAME COLUMN expires_at TO keep_until;
UPDATE used_token_ids SET keep_until = keep_until + 86400;
