// The real `openai` npm client (6.x) against `bitnet serve`: started by tests/test_serve.sh as
//   node tests/serve_openai.mjs URL API_KEY PATH/TO/openai/index.mjs
// Prints "serve_openai: N passed, N failed".
const [url, apiKey, modulePath] = process.argv.slice(2);
const { default: OpenAI, APIError } = await import(modulePath);

let passed = 0, failed = 0;
function check(what, cond, detail) {
    if (cond) passed++;
    else { failed++; console.error(`FAIL: ${what}${detail !== undefined ? ': ' + JSON.stringify(detail) : ''}`); }
}
async function test(what, fn) {
    try { await fn(); } catch (e) { failed++; console.error(`FAIL: ${what}: threw ${e && e.stack || e}`); }
}

const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 30000 });
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }];

let plain = '';
await test('chat.completions.create', async () => {
    const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    check('chat object', r.object === 'chat.completion', r.object);
    check('chat role', r.choices[0].message.role === 'assistant');
    check('chat finish_reason', r.choices[0].finish_reason === 'length', r.choices[0].finish_reason);
    check('chat usage', r.usage.completion_tokens === 12 && r.usage.total_tokens === r.usage.prompt_tokens + 12, r.usage);
    plain = r.choices[0].message.content;
    check('chat content', typeof plain === 'string' && plain.length > 0, plain);
});

await test('chat.completions.create stream', async () => {
    const stream = await client.chat.completions.create({
        model: 'tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = '', role = null, finish = null, usage = null, chunks = 0, other = null;
    for await (const chunk of stream) {    /* the server may join pieces: one check for all chunks */
        chunks++;
        if (chunk.object !== 'chat.completion.chunk' && other === null) other = chunk.object;
        if (chunk.usage) usage = chunk.usage;
        const c = chunk.choices[0];
        if (!c) continue;
        if (c.delta.role) role = c.delta.role;
        if (c.delta.content) text += c.delta.content;
        if (c.finish_reason) finish = c.finish_reason;
    }
    check('every chunk a chat.completion.chunk', other === null, other);
    check('stream role', role === 'assistant', role);
    check('stream finish', finish === 'length', finish);
    check('stream usage', usage && usage.completion_tokens === 12, usage);
    check('stream text = plain text', text === plain, { text, plain });
    check('stream chunks', chunks >= 3, chunks);
});

await test('chat.completions.stream helper', async () => {
    const runner = client.chat.completions.stream({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    let deltas = '';
    runner.on('content', (delta) => { deltas += delta; });
    const final = await runner.finalChatCompletion();
    check('helper role', final.choices[0].message.role === 'assistant', final.choices[0].message);
    check('helper finish', final.choices[0].finish_reason === 'length', final.choices[0].finish_reason);
    check('helper content', final.choices[0].message.content === plain && deltas === plain, { deltas, plain });
});

await test('completions.create', async () => {
    const r = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
    check('completion object', r.object === 'text_completion', r.object);
    check('completion text', typeof r.choices[0].text === 'string' && r.usage.completion_tokens === 8, r);
    const s = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
    check('completion stream = plain', text === r.choices[0].text, { text, plain: r.choices[0].text });
});

await test('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    check('models.list', ids.length === 1 && ids[0] === 'tiny', ids);
});

await test('APIError', async () => {
    try {
        await client.chat.completions.create({ model: 'tiny', messages: [], max_tokens: 2 });
        check('empty messages rejected', false);
    } catch (e) {
        check('APIError 400', e instanceof APIError && e.status === 400, { status: e.status, name: e.name });
        check('APIError message', typeof e.message === 'string' && e.message.includes('messages'), e.message);
    }
    const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    try {
        await bad.models.list();
        check('wrong key rejected', false);
    } catch (e) {
        check('APIError 401', e instanceof APIError && e.status === 401, { status: e.status, name: e.name });
    }
});

console.log(`serve_openai: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
