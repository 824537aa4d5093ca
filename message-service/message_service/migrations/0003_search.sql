-- Full-text search over message bodies: English words and their prefixes (search as you
-- type), and Korean (any 2+ syllable part of a word), the same under any database ctype.
--
-- What decides a letter. pg_trgm asks the database's LC_CTYPE: in a database made with
-- LC_CTYPE=C (initdb --no-locale, common in containers) it drops every Hangul syllable, and a
-- 2-syllable query has no trigram at all, so `LIKE '%회의%'` gets no help from a trigram
-- index in any locale. The text search parser is safe: it takes any non-ASCII character for
-- a letter under C, and iswalpha() (Unicode-aware in glibc's C.UTF-8 on this machine and in
-- musl, postgres:16-alpine's libc) otherwise. The CJK pieces are cut here by explicit code
-- point ranges, which no locale changes.
--
--   * Words: to_tsvector('simple') (lowercased, no stemming, so a prefix of what one typed
--     matches: stems and prefixes do not mix), with < > & made spaces first: the parser
--     reads HTML, and would drop a tag, an entity, and everything after a `<script>`.
--   * Hangul, kana and Han runs: also their overlapping 2-character pieces (`회의는` ->
--     `회의`, `의는`); a single character stays itself. A query run must hold all of its
--     pieces (the index answers that) and occur as it is (search_contains checks the few
--     bodies the index found).
--
-- The vector is a stored generated column, so it follows every edit, and a deleted message
-- (body NULL) has none. The GIN index holds the room id next to the lexemes (btree_gin), so
-- "these 50 rooms AND this word" is answered inside the index.

-- btree_gin is a trusted extension (Postgres 13+): a database owner who is not a superuser
-- may create it too.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The lexemes of a body: its words plus the pieces of its CJK runs. Text that is all ASCII
-- (most messages) skips the regex, which is what costs: the words alone take a few
-- microseconds a message, the pieces some tens.
CREATE FUNCTION messages.search_vector(body text)
RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    words tsvector := to_tsvector('pg_catalog.simple', translate(body, '<>&', '   '));
    pieces text[] := '{}';
    run text;
BEGIN
    IF octet_length(body) = length(body) THEN
        RETURN words;
    END IF;
    FOR run IN SELECT m[1] FROM regexp_matches(body, '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]+', 'g') AS m
    LOOP
        IF length(run) = 1 THEN
            pieces := array_append(pieces, run);
        ELSE
            FOR i IN 1 .. length(run) - 1 LOOP
                pieces := array_append(pieces, substr(run, i, 2));
            END LOOP;
        END IF;
    END LOOP;
    RETURN words || array_to_tsvector(pieces);
END
$$;

-- A query as a tsquery: every part must match. Words match as prefixes when ``prefix``
-- (a one-letter word only as itself: as a prefix it would match nearly everything), else as
-- whole words. A CJK run must hold all of its pieces; a single CJK character matches as the
-- start of a piece. NULL when the text has nothing to search.
CREATE FUNCTION messages.search_query(q text, prefix boolean)
RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    parts text[] := '{}';
    word text;
    run text;
BEGIN
    FOR word IN
        SELECT u.lexeme FROM unnest(to_tsvector('pg_catalog.simple', translate(q, '<>&', '   '))) u
    LOOP
        CONTINUE WHEN word ~ '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]';
        parts := array_append(parts,
            '''' || replace(replace(word, '\', '\\'), '''', '''''') || ''''
            || CASE WHEN prefix AND length(word) > 1 THEN ':*' ELSE '' END);
    END LOOP;
    FOR run IN SELECT m[1] FROM regexp_matches(q, '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]+', 'g') AS m
    LOOP
        IF length(run) = 1 THEN
            parts := array_append(parts, '''' || run || ''':*');
        ELSE
            FOR i IN 1 .. length(run) - 1 LOOP
                parts := array_append(parts, '''' || substr(run, i, 2) || '''');
            END LOOP;
        END IF;
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN NULL;
    END IF;
    RETURN array_to_string(parts, ' & ')::tsquery;
END
$$;

-- Whether every CJK run of 3+ characters of the query occurs in the body as it is (the index
-- found the bodies holding all of its pieces, but maybe apart).
CREATE FUNCTION messages.search_contains(body text, q text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(bool_and(strpos(body, m[1]) > 0), true)
    FROM regexp_matches(q, '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]{3,}', 'g') AS m
$$;

ALTER TABLE messages.messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (messages.search_vector(body)) STORED;

CREATE INDEX messages_search ON messages.messages USING gin (room_id, search);
