-- Full-text search over message bodies: English words and their prefixes (search as you
-- type), and Korean (any 2+ syllable part of a word), the same under any database ctype, and
-- fast for one user's rooms however many messages the other rooms hold.
--
-- Measured against pg_trgm (a trigram GIN index on the body, ILIKE per word) on the bench's
-- million messages: p95 2.3 s there, against 25-77 ms here, for the same 200 queries; a
-- 2-syllable or 2-letter query has no trigram and reads every message of the rooms.
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
-- Room-tagged lexemes. Each lexeme is stored behind its room's tag (the last 8 hex digits of
-- the room id: `1a2b3c4d|meeting`), and a query asks for each of its words in each of the
-- caller's rooms (`1a2b3c4d|meet:* | 5e6f7a8b|meet:* | ...`). So the index reads only the
-- postings of those rooms: a common word or a 2-letter prefix costs what its matches in 50
-- rooms cost, not what its matches in all rooms cost (measured on a million messages: a
-- prefix with 61,000 matches overall took 100 ms to collect, then an AND with the rooms' 50,000
-- rows another 30 ms, untagged). Two rooms sharing a tag only cost a recheck: the query
-- still filters on room_id. The price: lexemes lose their positions (ranking uses how many
-- and how often the words match, not how close they stand).
--
-- The vector is a stored generated column, so it follows every edit, and a deleted message
-- (body NULL) has none. No extension is needed.

CREATE FUNCTION messages.search_tag(room_id uuid)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT right(room_id::text, 8) || '|' $$;

-- The lexemes of a body in a room: its words plus the pieces of its CJK runs, behind the
-- room's tag. Text that is all ASCII (most messages) skips the regex, the costly part.
CREATE FUNCTION messages.search_vector(room_id uuid, body text)
RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    tag text := messages.search_tag(room_id);
    lexemes text[];
    run text;
BEGIN
    lexemes := tsvector_to_array(to_tsvector('pg_catalog.simple', translate(body, '<>&', '   ')));
    IF octet_length(body) <> length(body) THEN
        FOR run IN
            SELECT m[1] FROM regexp_matches(body, '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]+', 'g') AS m
        LOOP
            IF length(run) = 1 THEN
                lexemes := array_append(lexemes, run);
            ELSE
                FOR i IN 1 .. length(run) - 1 LOOP
                    lexemes := array_append(lexemes, substr(run, i, 2));
                END LOOP;
            END IF;
        END LOOP;
    END IF;
    RETURN array_to_tsvector(ARRAY(SELECT DISTINCT tag || l FROM unnest(lexemes) AS l));
END
$$;

-- A query for the given rooms as a tsquery: every part must match, in any one of the rooms.
-- Words match as prefixes when ``prefix`` (a one-letter word only as itself: as a prefix it
-- would match nearly everything), else as whole words. A CJK run must hold all of its
-- pieces; a single CJK character matches as the start of a piece. NULL when the text has
-- nothing to search (or there is no room).
CREATE FUNCTION messages.search_query(q text, rooms uuid[], prefix boolean)
RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    tags text[] := ARRAY(SELECT DISTINCT messages.search_tag(r) FROM unnest(rooms) AS r);
    terms text[] := '{}';  -- each a lexeme followed by ':*' when it is a prefix
    parts text[] := '{}';
    word text;
    run text;
    term text;
    i int;
BEGIN
    FOR word IN
        SELECT u.lexeme FROM unnest(to_tsvector('pg_catalog.simple', translate(q, '<>&', '   '))) u
    LOOP
        CONTINUE WHEN word ~ '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]';
        terms := array_append(terms,
            word || CASE WHEN prefix AND length(word) > 1 THEN ':*' ELSE '' END);
    END LOOP;
    -- A long run asks the index for at most 8 of its pieces, spread over it: search_contains
    -- checks the run itself, and the query stays small.
    FOR run IN SELECT m[1] FROM regexp_matches(q, '[가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿]+', 'g') AS m
    LOOP
        IF length(run) = 1 THEN
            terms := array_append(terms, run || ':*');
        ELSE
            FOR i IN
                SELECT DISTINCT 1 + (k * (length(run) - 2)) / greatest(1, least(7, length(run) - 2))
                FROM generate_series(0, least(7, length(run) - 2)) AS k
            LOOP
                terms := array_append(terms, substr(run, i, 2));
            END LOOP;
        END IF;
    END LOOP;
    IF cardinality(terms) = 0 OR cardinality(tags) = 0 THEN
        RETURN NULL;
    END IF;
    FOREACH term IN ARRAY ARRAY(SELECT DISTINCT t FROM unnest(terms) AS t) LOOP
        parts := array_append(parts, '(' || (
            SELECT string_agg(
                '''' || replace(replace(tag || regexp_replace(term, ':\*$', ''), '\', '\\'),
                                '''', '''''') || ''''
                || CASE WHEN term LIKE '%:*' THEN ':*' ELSE '' END,
                ' | ')
            FROM unnest(tags) AS tag
        ) || ')');
    END LOOP;
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
    ADD COLUMN search tsvector
    GENERATED ALWAYS AS (messages.search_vector(room_id, body)) STORED;

CREATE INDEX messages_search ON messages.messages USING gin (search);
