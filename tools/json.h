/* json.h - a strict JSON (RFC 8259) reader and a small JSON writer for the `bitnet` tools.

   Reader: json_parse() turns a whole text into a DOM held in two allocations (a node array and
   a string arena), in one linear pass with an explicit stack: no recursion, so nesting depth is
   bounded only by the limit, and multi-MB files (a tokenizer.json with 128k vocab entries and
   280k merges) parse in linear time. Nodes are stored in document order; a container's
   children follow it, and every node knows how many nodes its subtree spans, so skipping a value
   is O(1):
       const json_value *e = json_first(arr);
       for (i = 0; i < arr->count; i++, e = json_next(e)) ...        array elements
       const json_value *k = json_first(obj);
       for (i = 0; i < obj->count; i++, k = json_next(k + 1)) ...    object: key k, value k + 1
   Strictness: exactly one value, surrounded by optional whitespace (a leading UTF-8 BOM is
   skipped); no comments, trailing commas, NaN/Infinity, leading zeros or '+'; strings must be
   valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) without raw control
   characters; \u escapes must form valid code points (a high surrogate must be followed by a
   low one); they are decoded to UTF-8 (\u0000 gives a NUL byte inside the string: use len).
   DUPLICATE KEYS in one object are an error (parsers that disagree on which one wins are a known
   source of request smuggling); detection is hashed, linear in the object size.
   Numbers: `num` is the nearest double (strtod: the C locale is assumed); `is_int` is set and
   `i` holds the exact value when the number is integral and fits int64 (for an integer
   literal, from its digits, not the rounded double).

   Writer: json_writer appends to a growable buffer it owns (reset keeps the memory, so a
   connection reuses one buffer for every response). Commas are inserted automatically.
   Strings are escaped and always come out valid UTF-8 (an invalid sequence becomes U+FFFD);
   non-finite numbers become null. An allocation failure sets `failed` and later calls do
   nothing. */
#ifndef BITNET_TOOLS_JSON_H
#define BITNET_TOOLS_JSON_H
#include <stddef.h>
#include <stdint.h>

typedef enum json_type {
    JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_value {
    uint8_t type;             /* json_type */
    uint8_t is_int;           /* number: integral and exactly `i` */
    uint32_t span;            /* nodes in this value's subtree, itself included */
    uint32_t count;           /* array: elements; object: members */
    union {
        struct { const char *s; size_t len; } str;   /* string (NUL-terminated after len) */
        struct { double num; int64_t i; } n;          /* number */
    } u;
} json_value;

typedef struct json_limits {
    size_t max_bytes;         /* longest input; 0 = 256 MiB */
    int max_depth;            /* deepest nesting of arrays/objects; 0 = 512 */
} json_limits;

typedef struct json_doc json_doc;

/* Parses text[0..len) (need not be NUL-terminated). Returns 0 and sets *out, or -1 with a
   message "line L column C: what" in err (if err_size > 0) and *out = NULL. */
int json_parse(json_doc **out, const char *text, size_t len, const json_limits *limits,
               char *err, size_t err_size);
void json_free(json_doc *doc);
const json_value *json_root(const json_doc *doc);

/* First child of an array or object (for an object: the first key), NULL if empty or not one. */
const json_value *json_first(const json_value *v);
/* The node after v's subtree: v's next sibling when v is not the last child. */
const json_value *json_next(const json_value *v);
/* The value of key in obj, NULL if obj is not an object or has no such key (linear scan). */
const json_value *json_get(const json_value *obj, const char *key);
/* Element i of an array (O(i)), NULL if out of range. */
const json_value *json_at(const json_value *arr, size_t i);
/* v is a string equal to s. */
int json_is_str(const json_value *v, const char *s);

/* ---- writer ---- */
typedef struct json_writer {
    char *buf;                /* the output so far (NUL-terminated when not failed) */
    size_t len, cap;
    int failed;               /* an allocation failed or nesting passed 64 */
    int depth;
    int after_key;            /* the next value follows a key: no comma */
    uint64_t has_item;        /* bit d: the container at depth d has an item already */
} json_writer;

void json_w_init(json_writer *w);
void json_w_free(json_writer *w);
void json_w_reset(json_writer *w);                 /* empty again, memory kept */
void json_w_obj(json_writer *w);                   /* { */
void json_w_obj_end(json_writer *w);               /* } */
void json_w_arr(json_writer *w);                   /* [ */
void json_w_arr_end(json_writer *w);               /* ] */
void json_w_key(json_writer *w, const char *key);
void json_w_str(json_writer *w, const char *s, size_t len);
void json_w_cstr(json_writer *w, const char *s);   /* NULL writes null */
void json_w_int(json_writer *w, int64_t v);
void json_w_num(json_writer *w, double v);
void json_w_bool(json_writer *w, int v);
void json_w_null(json_writer *w);
/* Appends bytes as they are, outside the value structure (e.g. "data: " around an event). */
void json_w_raw(json_writer *w, const char *s, size_t len);
/* Writes s[0..len) escaped as the contents of a JSON string (no quotes) to w. */
void json_w_escaped(json_writer *w, const char *s, size_t len);

/* The whole file at path (a JSON document, or another small text file beside one), malloc'd and
   NUL-terminated, *len its size; NULL when it cannot be read or is longer than max bytes. */
char *json_read_file(const char *path, size_t max, size_t *len);
#endif
