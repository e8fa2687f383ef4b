/**
 * Templates ("{} is located in") recovered from prompts whose subject is known, and matched against prompts whose
 * subject is not: CounterFact's neighbourhood prompts name another subject of the same relation, without saying
 * which words are the subject.
 */

/** The prompt with its subject replaced by {} (the first occurrence, as ROME and romba fill templates). */
export function templateOf(prompt: string, subject: string): string | null {
  const at = prompt.indexOf(subject);
  return at < 0 ? null : `${prompt.slice(0, at)}{}${prompt.slice(at + subject.length)}`;
}

export function fillTemplate(template: string, subject: string): string {
  return template.replace('{}', subject);
}

/**
 * The template among `templates` that explains `prompt` with the most fixed text (prefix and suffix around {}),
 * and the subject it implies; null when none does. A longer match is the more specific template: "{} is located
 * in the continent of" explains "X is located in the continent of" better than "{} of".
 */
export function matchTemplate(prompt: string, templates: readonly string[]): { template: string; subject: string } | null {
  let best: { template: string; subject: string; fixed: number } | null = null;
  for (const t of templates) {
    const at = t.indexOf('{}');
    const pre = t.slice(0, at), suf = t.slice(at + 2);
    if (prompt.length <= pre.length + suf.length || !prompt.startsWith(pre) || !prompt.endsWith(suf)) continue;
    const subject = prompt.slice(pre.length, prompt.length - suf.length);
    // A subject is a name: no leading or trailing space, and not a whole clause.
    if (subject.trim() !== subject || subject.length === 0) continue;
    if (!best || pre.length + suf.length > best.fixed) best = { template: t, subject, fixed: pre.length + suf.length };
  }
  return best && { template: best.template, subject: best.subject };
}
