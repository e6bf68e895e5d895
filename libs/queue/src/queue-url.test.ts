import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { checkQueueName, parseQueueUrl } from './queue-url';

describe('queue URLs', () => {
  it('read host, port, database, user, password and TLS, with defaults', () => {
    expect(parseQueueUrl('redis://localhost')).toEqual({ host: 'localhost', port: 6379, db: 0, tls: false, display: 'redis://localhost:6379/0' });
    expect(parseQueueUrl('redis://10.0.0.5:6380/3')).toMatchObject({ host: '10.0.0.5', port: 6380, db: 3, tls: false });
    expect(parseQueueUrl('rediss://queue.example.org:6390/1')).toMatchObject({ host: 'queue.example.org', port: 6390, db: 1, tls: true, display: 'rediss://queue.example.org:6390/1' });
    expect(parseQueueUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000, display: 'redis://[::1]:7000/0' });
    expect(parseQueueUrl('redis://localhost:6379/')).toMatchObject({ db: 0 });
  });

  it('decode the password and user, and never show the password', () => {
    const target = parseQueueUrl('redis://:p%40ss%3Aword@h:1/2');
    expect(target).toMatchObject({ password: 'p@ss:word', host: 'h', port: 1, db: 2 });
    expect(target.username).toBeUndefined();
    expect(target.display).toBe('redis://:***@h:1/2');
    const withUser = parseQueueUrl('rediss://alice:secret@h');
    expect(withUser).toMatchObject({ username: 'alice', password: 'secret', tls: true });
    expect(withUser.display).toBe('rediss://alice:***@h:6379/0');
  });

  it.each([
    ['', /the URL is empty/],
    ['http://localhost:6379', /the scheme must be redis or rediss, not 'http'/],
    ['localhost:6379', /the URL needs its scheme: redis:\/\/localhost:6379/],
    ['redis:localhost', /the URL names no host/],
    ['redis:///0', /the URL names no host/],
    ['redis://h:0', /the port must be a number from 1 to 65535, not '0'/],
    ['redis://h:99999/0', /the port must be a number from 1 to 65535, not '99999'/],
    ['redis://h:6379x', /the port must be a number from 1 to 65535, not '6379x'/],
    ['redis://h:', /the port must be a number from 1 to 65535, not ''/],
    ['redis://h/abc', /the path must be a database number, not '\/abc'/],
    ['redis://h/0?tls=true', /options after \? or # are not understood/],
    ['redis://:%E0%A4%A@h', /the password is not valid URL encoding/],
  ])('refuse %j, saying why', (url, why) => {
    expect(() => parseQueueUrl(url)).toThrow(ConfigError);
    expect(() => parseQueueUrl(url)).toThrow(why);
  });

  it('a refused URL keeps its password out of the message', () => {
    expect(() => parseQueueUrl('redis://:hunter2@h:0')).toThrow(/redis:\/\/:\*\*\*@h:0/);
    expect(() => parseQueueUrl('redis://:hunter2@h:0')).not.toThrow(/hunter2/);
  });

  it('queue names: letters, digits, dot, dash and underscore', () => {
    expect(checkQueueName('dlexp-trials')).toBe('dlexp-trials');
    expect(checkQueueName('team_a.sweeps-2')).toBe('team_a.sweeps-2');
    for (const bad of ['', 'a:b', 'a b', '-x', 'x'.repeat(101)]) expect(() => checkQueueName(bad)).toThrow(ConfigError);
  });
});
