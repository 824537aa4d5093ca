-- Full-text search over message bodies, for English (words and their prefixes) and Korean
-- (any 2+ syllable part of a word), independent of the database's collation and ctype.
--
-- Why not pg_trgm or the built-in text search parser: both decide what a letter is with the
-- database's LC_CTYPE. In a database created with LC_CTYPE=C (initdb --no-locale, a common
-- container setting) pg_trgm drops every Hangul syllable, and a 2-syllable query has no
-- trigram at all, so `LIKE '%회의%'` cannot use a trigram index anyway. Here the words are cut
-- by explicit code point ranges instead, and written straight into a tsvector (the tsvector
-- input function does no classification), so the same text gives the same lexemes under any
-- ctype, on this machine's Postgres (C.UTF-8), in postgres:16-alpine (musl) and anywhere else.
--
--   * A run of Latin, Greek or Cyrillic letters and digits is one lexeme, lowercased (at most
--     64 characters per lexeme; a longer run continues as the next one).
--   * A run of Hangul, kana or Han characters becomes its overlapping 2-character pieces
--     (`회의는` -> `회의`, `의는`); a single character stays itself. A query run becomes the
--     phrase of its pieces (`안녕하` -> `안녕 <-> 녕하`), so it matches exactly where that
--     run occurs inside a longer one.
--
-- The vector is a stored generated column, so it follows every edit, and a deleted message
-- (body NULL) has none. The GIN index holds the room id next to the lexemes (btree_gin), so
-- "these 50 rooms AND this word" is answered inside the index.

-- btree_gin is a trusted extension (Postgres 13+): the database owner may create it without
-- being a superuser.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE FUNCTION messages.search_runs(body text)
RETURNS TABLE (run text, ord bigint, cjk boolean)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT m[1], t.ord, m[1] ~ '^[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]'
    FROM regexp_matches(
        lower(body),
        '[0-9A-Za-zªµºÀ-ÖØ-öø-ɏͰ-ϿЀ-ӿ]{1,64}|[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]+',
        'g'
    ) WITH ORDINALITY AS t(m, ord)
$$;

-- The lexemes of a body with their positions (a CJK run's pieces at consecutive positions).
CREATE FUNCTION messages.search_vector(body text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(
        string_agg('''' || piece || ''':' || pos, ' ')::tsvector,
        ''::tsvector
    )
    FROM (
        SELECT CASE WHEN r.cjk AND length(r.run) > 1 THEN substr(r.run, i, 2) ELSE r.run END
                   AS piece,
               row_number() OVER (ORDER BY r.ord, i) AS pos
        FROM messages.search_runs(body) r,
             generate_series(1, CASE WHEN r.cjk THEN greatest(length(r.run) - 1, 1) ELSE 1 END)
                 AS i
    ) pieces
$$;

-- A query as a tsquery: every part must match. Word runs match as prefixes when ``prefix``
-- (search-as-you-type), else as whole words; CJK runs as the phrase of their pieces, and a
-- single CJK character as the start of a piece. NULL when the text has nothing to search.
CREATE FUNCTION messages.search_query(q text, prefix boolean)
RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT string_agg(part, ' & ' ORDER BY ord)::tsquery
    FROM (
        SELECT r.ord,
               CASE
                   WHEN NOT r.cjk THEN  -- one letter as a prefix would match nearly everything
                       '''' || r.run || ''''
                       || CASE WHEN prefix AND length(r.run) > 1 THEN ':*' ELSE '' END
                   WHEN length(r.run) = 1 THEN '''' || r.run || ''':*'
                   ELSE '(' || (
                       SELECT string_agg('''' || substr(r.run, i, 2) || '''', ' <-> ' ORDER BY i)
                       FROM generate_series(1, length(r.run) - 1) AS i
                   ) || ')'
               END AS part
        FROM messages.search_runs(q) r
    ) parts
$$;

ALTER TABLE messages.messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (messages.search_vector(body)) STORED;

CREATE INDEX messages_search ON messages.messages USING gin (room_id, search);
