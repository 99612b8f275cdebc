import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../server/src/config/config.js';

describe('config', function () {
  it('has embedded defaults: port 3000, one worker per core, generated dev keys', function () {
    const config = loadConfig({}, () => 'x'.repeat(64));
    assert.equal(config.http.port, 3000);
    assert.ok(config.media.workers >= 1);
    assert.equal(config.auth.generatedKeys, true);
    assert.equal(config.auth.apiSecret, 'x'.repeat(64));
    assert.equal(config.devEndpoints, true);
    assert.equal(config.log.format, 'pretty');
  });

  it('reads and coerces variables', function () {
    const config = loadConfig({
      PORT: '8080',
      MEDIA_WORKERS: '3',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    assert.equal(config.http.port, 8080);
    assert.equal(config.media.workers, 3);
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
  });

  it('is frozen', function () {
    const config = loadConfig({});
    assert.throws(() => {
      (config.http as { port: number }).port = 1;
    }, TypeError);
  });

  for (const [name, value] of [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['MEDIA_WORKERS', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['LIVESTAGE_API_SECRET', 'short'],
  ] as const) {
    it(`a bad ${name}=${value} stops start-up with a message naming the variable`, function () {
      assert.throws(
        () => loadConfig({ [name]: value, LIVESTAGE_API_KEY: 'k12' }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      );
    });
  }

  it('production requires real keys and refuses dev endpoints', function () {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /LIVESTAGE_API_KEY/);
    const keys = { LIVESTAGE_API_KEY: 'key', LIVESTAGE_API_SECRET: 's'.repeat(32) };
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', DEV_ENDPOINTS: 'true', ...keys }),
      /DEV_ENDPOINTS/,
    );
    const config = loadConfig({ NODE_ENV: 'production', ...keys });
    assert.equal(config.devEndpoints, false);
    assert.equal(config.log.format, 'json');
  });

  describe('DEV_ENDPOINTS (GET /api/dev/token mints any role for anyone)', function () {
    const keys = { LIVESTAGE_API_KEY: 'key', LIVESTAGE_API_SECRET: 's'.repeat(32) };
    // [NODE_ENV, keys set, DEV_ENDPOINTS] → on, off, or a ConfigError
    const cases: [string | undefined, boolean, string | undefined, boolean | RegExp][] = [];
    for (const nodeEnv of [undefined, 'development', 'test']) {
      cases.push(
        [nodeEnv, false, undefined, true], // the embedded default: throwaway keys
        [nodeEnv, false, '', true], // empty is unset
        [nodeEnv, false, 'true', true],
        [nodeEnv, false, '1', true],
        [nodeEnv, false, 'false', false],
        [nodeEnv, false, '0', false],
        [nodeEnv, true, undefined, false], // real keys: shut unless asked for
        [nodeEnv, true, '', false],
        [nodeEnv, true, 'true', true],
        [nodeEnv, true, '1', true],
        [nodeEnv, true, 'false', false],
        [nodeEnv, true, '0', false],
        [nodeEnv, true, 'yes', /DEV_ENDPOINTS/],
      );
    }
    cases.push(
      ['production', true, undefined, false],
      ['production', true, '', false],
      ['production', true, 'false', false],
      ['production', true, '0', false],
      ['production', true, 'true', /DEV_ENDPOINTS/],
      ['production', true, '1', /DEV_ENDPOINTS/],
      ['production', false, undefined, /LIVESTAGE_API_KEY/],
    );
    for (const [nodeEnv, withKeys, value, expected] of cases) {
      const name =
        `NODE_ENV=${nodeEnv ?? '(unset)'}, ${withKeys ? 'API keys' : 'no API keys'}, ` +
        `DEV_ENDPOINTS=${value === undefined ? '(unset)' : JSON.stringify(value)}`;
      const env = {
        ...(nodeEnv !== undefined ? { NODE_ENV: nodeEnv } : {}),
        ...(withKeys ? keys : {}),
        ...(value !== undefined ? { DEV_ENDPOINTS: value } : {}),
      };
      if (expected instanceof RegExp) {
        it(`${name}: refused`, function () {
          assert.throws(
            () => loadConfig(env),
            (error: unknown) => error instanceof ConfigError && expected.test(error.message),
          );
        });
      } else {
        it(`${name}: ${expected ? 'on' : 'off'}`, function () {
          assert.equal(loadConfig(env).devEndpoints, expected);
        });
      }
    }
  });

  it('a key without a secret is an error', function () {
    assert.throws(() => loadConfig({ LIVESTAGE_API_KEY: 'key' }), /together/);
  });
});
