// CLIP's text cleaning before BPE, as the reference `basic_clean` + `whitespace_clean` do it:
// ftfy.fix_text (without its mojibake repair), html.unescape twice, strip, whitespace runs to one
// space, lowercase; plus the whitespace classes and the split regex as Python's `regex` sees them.
//
// ftfy: the fixes that do not need its mojibake heuristics are reproduced (HTML entity unescaping
// with its `&...;` rules and the "<" exception, C1 controls read as Windows-1252, Latin ligatures,
// full/half-width forms, curly quotes, line breaks, lone surrogates, terminal escapes, control
// characters, NFC, repeated until nothing changes). Its mojibake repair (`fix_encoding`) is not:
// such text is tokenized as given. Named HTML entities cover the HTML 4 set and every entity that
// Python also decodes without a semicolon; the rarer HTML 5 names are left as text.

// ---------------------------------------------------------------------------------------------
// Whitespace as the reference sees it.

// Python `regex` \s (Unicode White_Space); JavaScript's \s differs (it has U+FEFF, lacks U+0085).
export const WS_CLASS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${WS_CLASS}]+`, 'g');
// Python str.strip(): the same plus U+001C..U+001F.
export const STRIP_CLASS = `${WS_CLASS}\\x1c-\\x1f`;
const STRIP_RE = new RegExp(`^[${STRIP_CLASS}]+|[${STRIP_CLASS}]+$`, 'g');

/** CLIP's pre-tokenizer regex (the reference compiles it with IGNORECASE). */
export const SPLIT_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS_CLASS}\\p{L}\\p{N}]+`,
  'giu',
);

// ---------------------------------------------------------------------------------------------
// HTML character references, as Python's html.unescape and ftfy's unescape_html decode them.

// Latin-1 names, U+00A0..U+00FF in order. Python also decodes all of them without a semicolon.
const LATIN1_NAMES = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn ' +
  'sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave ' +
  'Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ' +
  'ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN ' +
  'szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave ' +
  'iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ' +
  'ucirc uuml yacute thorn yuml'
).split(' ');

// Other HTML 4 names (values as HTML 5 defines them), plus the all-caps aliases HTML 5 has for them.
const OTHER_ENTITIES: Record<string, number> = {
  quot: 0x22, amp: 0x26, apos: 0x27, lt: 0x3c, gt: 0x3e,
  QUOT: 0x22, AMP: 0x26, LT: 0x3c, GT: 0x3e, COPY: 0xa9, REG: 0xae, TRADE: 0x2122,
  OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161, Yuml: 0x178, fnof: 0x192,
  circ: 0x2c6, tilde: 0x2dc,
  ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c, zwj: 0x200d, lrm: 0x200e, rlm: 0x200f,
  ndash: 0x2013, mdash: 0x2014, lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a, ldquo: 0x201c,
  rdquo: 0x201d, bdquo: 0x201e, dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, hellip: 0x2026,
  permil: 0x2030, prime: 0x2032, Prime: 0x2033, lsaquo: 0x2039, rsaquo: 0x203a, oline: 0x203e,
  frasl: 0x2044, euro: 0x20ac, image: 0x2111, weierp: 0x2118, real: 0x211c, trade: 0x2122,
  alefsym: 0x2135, larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194,
  crarr: 0x21b5, lArr: 0x21d0, uArr: 0x21d1, rArr: 0x21d2, dArr: 0x21d3, hArr: 0x21d4,
  forall: 0x2200, part: 0x2202, exist: 0x2203, empty: 0x2205, nabla: 0x2207, isin: 0x2208,
  notin: 0x2209, ni: 0x220b, prod: 0x220f, sum: 0x2211, minus: 0x2212, lowast: 0x2217,
  radic: 0x221a, prop: 0x221d, infin: 0x221e, ang: 0x2220, and: 0x2227, or: 0x2228, cap: 0x2229,
  cup: 0x222a, int: 0x222b, there4: 0x2234, sim: 0x223c, cong: 0x2245, asymp: 0x2248, ne: 0x2260,
  equiv: 0x2261, le: 0x2264, ge: 0x2265, sub: 0x2282, sup: 0x2283, nsub: 0x2284, sube: 0x2286,
  supe: 0x2287, oplus: 0x2295, otimes: 0x2297, perp: 0x22a5, sdot: 0x22c5, lceil: 0x2308,
  rceil: 0x2309, lfloor: 0x230a, rfloor: 0x230b, lang: 0x27e8, rang: 0x27e9, loz: 0x25ca,
  spades: 0x2660, clubs: 0x2663, hearts: 0x2665, diams: 0x2666,
  thetasym: 0x3d1, upsih: 0x3d2, piv: 0x3d6, sigmaf: 0x3c2,
};
const GREEK_NAMES = (
  'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho _ ' +
  'Sigma Tau Upsilon Phi Chi Psi Omega'
).split(' ');
// Names Python decodes even without the semicolon (besides the Latin-1 ones).
const LEGACY_EXTRA = ['quot', 'amp', 'lt', 'gt', 'QUOT', 'AMP', 'LT', 'GT', 'COPY', 'REG'];

/** Keys as Python's html5 table has them: "name;" for every name, "name" for the legacy ones. */
function buildEntities(): Map<string, string> {
  const m = new Map<string, string>();
  const add = (name: string, cp: number, legacy: boolean) => {
    const ch = String.fromCodePoint(cp);
    m.set(name + ';', ch);
    if (legacy) m.set(name, ch);
  };
  LATIN1_NAMES.forEach((name, i) => add(name, 0xa0 + i, true));
  for (const [name, cp] of Object.entries(OTHER_ENTITIES)) add(name, cp, LEGACY_EXTRA.includes(name));
  GREEK_NAMES.forEach((name, i) => {
    if (name === '_') return;
    add(name, 0x391 + i, false);
    add(name.toLowerCase(), 0x3b1 + i, false);
  });
  return m;
}
const ENTITIES = buildEntities();

// Windows-1252 for 0x80..0x9F; undefined bytes stay as they are (Python's html table and ftfy's
// "sloppy" codec agree on this).
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152,
  0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122,
  0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

function isInvalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe
  );
}

const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function replaceCharref(match: string, s: string): string {
  if (s[0] === '#') {
    const hex = s[1] === 'x' || s[1] === 'X';
    const digits = s.slice(hex ? 2 : 1).replace(/;$/, '');
    const num = parseInt(digits, hex ? 16 : 10);
    if (num === 0) return '\ufffd';
    if (num === 0x0d) return '\r';
    if (num >= 0x80 && num <= 0x9f) return String.fromCodePoint(CP1252_HIGH[num - 0x80]);
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
    if (isInvalidCodepoint(num)) return '';
    return String.fromCodePoint(num);
  }
  const exact = ENTITIES.get(s);
  if (exact !== undefined) return exact;
  // The longest name that is a prefix (only the legacy names, written without ';', can be).
  for (let x = s.length - 1; x > 1; x--) {
    const hit = ENTITIES.get(s.slice(0, x));
    if (hit !== undefined) return hit + s.slice(x);
  }
  return match;
}

/** Python's `html.unescape` (HTML 5 rules; named references limited to the table above). */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF_RE, replaceCharref);
}

// ftfy's own table: "&name;" for every name, plus all-caps spellings of the all-lowercase names
// (decoded upper-cased) where the all-caps spelling is not itself a reference.
function buildFtfyEntities(): Map<string, string> {
  const m = new Map<string, string>();
  for (const [key, ch] of ENTITIES) {
    if (!key.endsWith(';')) continue;
    m.set('&' + key, ch);
  }
  for (const [key, ch] of ENTITIES) {
    if (!key.endsWith(';') || key !== key.toLowerCase()) continue;
    const upper = '&' + key.toUpperCase();
    if (htmlUnescape(upper) === upper) m.set(upper, ch.toUpperCase());
  }
  return m;
}
const FTFY_ENTITIES = buildFtfyEntities();
const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(FTFY_ENTITY_RE, (m) => {
    const hit = FTFY_ENTITIES.get(m);
    if (hit !== undefined) return hit;
    if (m.startsWith('&#')) {
      const u = htmlUnescape(m);
      return u.includes(';') ? m : u;
    }
    return m;
  });
}

// ---------------------------------------------------------------------------------------------
// The rest of ftfy.fix_text (default configuration, without fix_encoding).

const C1_RE = /[\x80-\x9f]/g;
const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj',
  '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi',
  '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
let widthMap: Map<string, string> | null = null;
function widthReplacement(ch: string): string {
  if (widthMap === null) {
    widthMap = new Map([['\u3000', ' ']]);
    for (let cp = 0xff01; cp < 0xfff0; cp++) {
      const c = String.fromCharCode(cp);
      const alt = c.normalize('NFKC');
      if (alt !== c) widthMap.set(c, alt);
    }
  }
  return widthMap.get(ch) ?? ch;
}
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const TERMINAL_ESCAPE_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function fixSegment(segment: string, unescapeHtml: boolean): string {
  let text = segment;
  for (;;) {
    const before = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = text.replace(C1_RE, (c) => String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80]));
    text = text.replace(LIGATURE_RE, (c) => LIGATURES[c]);
    text = text.replace(WIDTH_RE, widthReplacement);
    text = text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
    text = text
      .replace(/\r\n/g, '\n')
      .replace(/[\r\u2028\u2029\x85]/g, '\n');
    text = text.replace(LONE_SURROGATE_RE, '\ufffd');
    text = text.replace(TERMINAL_ESCAPE_RE, '');
    text = text.replace(CONTROL_RE, '');
    text = text.normalize('NFC');
    if (text === before) return text;
  }
}

/** ftfy.fix_text with its defaults, less the mojibake repair (see the file header). */
export function ftfyFixText(text: string): string {
  let out = '';
  let unescapeHtml = true; // "auto": off from the first line that contains '<' on, as ftfy does
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    let end = nl === -1 ? text.length : nl + 1;
    if (end - pos > 1_000_000) end = pos + 1_000_000;
    const segment = text.slice(pos, end);
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
    pos = end;
  }
  return out;
}

// Printable ASCII without '&': every ftfy fix and html.unescape leave it as it is.
const PLAIN_ASCII_RE = /^[\t\n\x20-\x25\x27-\x7e]*$/;

/**
 * The reference's text cleaning: `whitespace_clean(basic_clean(text)).lower()`, i.e. ftfy,
 * html.unescape twice, strip, whitespace runs to one space, strip, lowercase.
 */
export function cleanText(text: string): string {
  let t = text;
  if (!PLAIN_ASCII_RE.test(t)) t = htmlUnescape(htmlUnescape(ftfyFixText(t)));
  t = t.replace(STRIP_RE, '').replace(WS_RUN, ' ').replace(STRIP_RE, '');
  return t.toLowerCase();
}

