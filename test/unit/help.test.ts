// --help names the LAKEUP_* variable of an option one way, commander's: "(env: LAKEUP_X)".
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

describe('help', () => {
  it('shows every environment variable as "(env: LAKEUP_…)", at the end of its option', () => {
    const program = buildProgram(() => undefined);
    const texts = program.commands.flatMap((c) => c.options.map((o) => `${c.name()} ${o.flags}: ${c.createHelp().optionDescription(o)}`));
    const withEnv = texts.filter((t) => /LAKEUP_/.test(t));
    expect(withEnv.length).toBeGreaterThan(20);
    for (const t of withEnv) expect(t).toMatch(/ \(env: LAKEUP_[A-Z_]+(=1)?\)$/);
  });
});
