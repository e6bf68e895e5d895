export async function main(argv: string[]): Promise<number> {
  console.log(JSON.stringify({ argv, cwd: process.cwd(), init: process.env['INIT_CWD'] }));
  return argv.includes('--fail') ? 2 : 0;
}
