import { ModeldError } from '../errors/index.js';

const FIELD = 'body.chunkerConfig.regex';

function refuse(construct: string, why: string): never {
  throw new ModeldError('MODELD_ERR_VALIDATION', `${FIELD}: ${construct} is not supported (${why})`, { details: { field: FIELD, construct } });
}

/**
 * Translates a Python `re` pattern to a JavaScript RegExp source and flags. Supported: the
 * syntax both share (classes, quantifiers, groups, alternation, lookahead, fixed-width
 * lookbehind, backreferences `\1`), `(?P<name>...)` and `(?P=name)` (named groups), `\A` and
 * `\Z` (start and end of the text), and leading global inline flags `(?i)`, `(?m)`, `(?s)`.
 * Refused with a 400 naming `body.chunkerConfig.regex` and the construct: other inline flags
 * (`(?x)`, `(?a)`, `(?L)`, `(?u)`) and scoped flags `(?i:...)`, atomic groups `(?>...)`,
 * possessive quantifiers (`*+`, `++`, `?+`, `{m,n}+`), conditionals `(?(1)...)`, comments
 * `(?#...)`, and anything JavaScript cannot compile. `\d`, `\w`, `\s` match ASCII only here
 * (Python's match any Unicode digit / word character).
 */
export function translatePythonRegex(pattern: string): { source: string; flags: string } {
  let i = 0;
  let flags = '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 'm' || f === 's') flags += flags.includes(f) ? '' : f;
      else refuse(`the inline flag (?${f})`, 'only (?i), (?m) and (?s) are translated');
    }
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) refuse('a trailing backslash', 'it escapes nothing');
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'Z') out += '(?![\\s\\S])';
      else out += c + n;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal in Python.
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      i++;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2);
      const named = /^P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      const backref = /^P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
      if (named) {
        out += `(?<${named[1]}>`;
        i += 2 + named[0].length;
        continue;
      }
      if (backref) {
        out += `\\k<${backref[1]}>`;
        i += 2 + backref[0].length;
        continue;
      }
      if (rest.startsWith('>')) refuse('the atomic group (?>...)', 'JavaScript has no atomic groups');
      if (rest.startsWith('(')) refuse('the conditional (?(...)...)', 'JavaScript has no conditionals');
      if (rest.startsWith('#')) refuse('the comment (?#...)', 'remove the comment');
      if (/^[a-zA-Z-]+[:)]/.test(rest)) refuse(`the inline flag group (?${/^[a-zA-Z-]+/.exec(rest)![0]}...)`, 'only leading (?i), (?m), (?s) are translated');
      out += '(?';
      i += 2;
      continue;
    }
    if ((c === '*' || c === '+' || c === '?' || c === '}') && pattern[i + 1] === '+' && !(c === '+' && out.endsWith('\\'))) {
      out += c;
      if (/[*+?}]/.test(c) && isQuantifierEnd(out)) refuse(`the possessive quantifier ${c}+`, 'JavaScript has no possessive quantifiers');
      i++;
      continue;
    }
    out += c;
    i++;
  }
  try {
    new RegExp(out, flags + 'g');
  } catch (err) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `${FIELD}: not a valid regular expression (${(err as Error).message})`, { details: { field: FIELD } });
  }
  return { source: out, flags };
}

/** Whether the output so far ends with a quantifier (so that a following `+` makes it possessive). */
function isQuantifierEnd(out: string): boolean {
  const last = out[out.length - 1];
  if (last === '}') return /\{\d+(,\d*)?\}$/.test(out);
  // `a*`, `a+`, `a?` (not `(?` which is a group opener, handled before).
  return out.length >= 2 && out[out.length - 2] !== '\\';
}
