// `lakeup completion bash|zsh`: completion scripts generated from the program's own commands and
// flags, so they never drift from --help.
import type { Command } from 'commander';
import { LakeupError } from '../errors.js';
import { reportError } from './report.js';
import { processWriters, type Writers } from '../ui/streams.js';

function words(program: Command): { commands: string[]; flags: Record<string, string[]> } {
  const flags: Record<string, string[]> = {};
  const commands: string[] = [];
  for (const c of program.commands) {
    commands.push(c.name());
    flags[c.name()] = c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))).concat('--help');
  }
  return { commands, flags };
}

export function bashScript(program: Command): string {
  const { commands, flags } = words(program);
  const cases = commands.map((c) => `    ${c}) opts="${flags[c].join(' ')}" ;;`).join('\n');
  return `# lakeup bash completion: source it or add it to ~/.bashrc
_lakeup() {
  local cur cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
    --provider|-p) COMPREPLY=( $(compgen -W "memorylake copera" -- "$cur") ); return ;;
    --on-conflict) COMPREPLY=( $(compgen -W "rename deny overwrite replace" -- "$cur") ); return ;;
    --progress) COMPREPLY=( $(compgen -W "auto bar plain json none" -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -F _lakeup lakeup
`;
}

export function zshScript(program: Command): string {
  const { commands, flags } = words(program);
  const cases = commands.map((c) => `    ${c}) _arguments ${flags[c].map((f) => `'${f}[]'`).join(' ')} '*:file:_files' ;;`).join('\n');
  return `#compdef lakeup
# lakeup zsh completion: save as _lakeup in a folder on $fpath
_lakeup() {
  local -a commands
  commands=(${commands.map((c) => `'${c}'`).join(' ')})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _lakeup lakeup
`;
}

export function runCompletion(shell: string, program: Command, io: Writers = processWriters()): number {
  if (shell === 'bash') io.rawOut(bashScript(program));
  else if (shell === 'zsh') io.rawOut(zshScript(program));
  else return reportError(new LakeupError('usage', `completion: unknown shell '${shell}' (bash or zsh)`), { json: false, verbose: false, err: io.err, out: io.out });
  return 0;
}
