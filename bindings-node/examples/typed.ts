// A typed example, checked by `tsc --noEmit` against the generated index.d.ts (`make lint`,
// `npm test`): if the declarations drift from how the API is meant to be used, this breaks.

import {
  Corral,
  ServerConfig,
  type CallOptions,
  type Content,
  type ErrorCode,
  type ExecOutput,
  type GatewayOptions,
  type ServerHealth,
  type TemplateInfo,
  type Progress,
  type ServerConfigDict,
  type Tool,
  type ToolResult,
  errorCodes,
  isRetryable,
} from 'corral';

function describe(content: Content): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'image':
    case 'audio':
      return `${content.type} (${content.mimeType})`;
    case 'resource':
      return content.resource.uri;
    case 'resource_link':
      return `${content.name} → ${content.uri}`;
  }
}

export async function main(fixture: string): Promise<string[]> {
  await using corral = new Corral({ provider: 'local' });
  const dict: ServerConfigDict = { command: [fixture], env: { GREETING: 'hi' }, network: 'none' };
  await corral.addServerFromDict('fx', dict);
  await corral.addServer(ServerConfig.command('fx2', fixture));
  const names: string[] = await corral.loadMcpServers({ mcpServers: { fx3: { command: fixture } } });

  const tools: Tool[] = await corral.discoverTools('fx');
  const openai = tools.map((t) => t.toOpenAI());
  const anthropic = tools.map((t) => t.toAnthropic().input_schema);

  const seen: Progress[] = [];
  const controller = new AbortController();
  const options: CallOptions = {
    timeoutMs: 5_000,
    onProgress: (p) => seen.push(p),
    signal: controller.signal,
  };
  const result: ToolResult = await corral.executeTool('fx', 'echo', { text: 'typed' }, options);
  const texts: string[] = result.content.map(describe);

  {
    await using session = await corral.session('fx');
    const uris = (await session.listResources()).map((r) => r.uri);
    const prompt = await session.getPrompt('greet', { name: 'Ada' });
    texts.push(...uris, prompt.messages[0]?.role ?? '', session.protocolVersion);
  }

  const gatewayOptions: GatewayOptions = { servers: ['fx'], toolBudget: 32, eager: true };
  {
    await using gateway = await corral.startGateway(gatewayOptions);
    const settled: boolean = await gateway.waitSettled(10_000);
    const health: ServerHealth[] = gateway.servers();
    const ready = health.filter((h) => h.state === 'ready').map((h) => `${h.name}:${h.toolCount}`);
    texts.push(gateway.getMcpUrl(), String(settled), ...ready, String(gateway.token.length));
  }

  const template: TemplateInfo = await corral.buildTemplate('typed', ['true']);
  const templates: string[] = (await corral.listTemplates()).map((t) => `${t.name} ${t.sizeBytes}`);
  texts.push(template.id, ...templates);

  await using sandbox = await corral.sandbox({
    env: { A: 'b' },
    network: 'none',
    template: 'typed',
    limits: { disk_mb: 64 },
  });
  const out: ExecOutput = await sandbox.exec('echo $A');
  const data: Buffer = await sandbox.readFile('/etc/hostname').catch(() => Buffer.alloc(0));

  try {
    await corral.executeTool('nope', 'echo', {});
  } catch (e) {
    const code = (e as Error & { code: ErrorCode }).code;
    if (code === 'SERVER_NOT_FOUND' && !isRetryable(code)) texts.push(code);
  }
  const codes: ErrorCode[] = errorCodes();

  return [
    ...names,
    ...texts,
    String(openai.length + anthropic.length + seen.length + codes.length + data.length),
    out.stdout,
    String(out.exitCode ?? out.signal),
  ];
}
