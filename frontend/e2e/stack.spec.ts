// The stack the other tests rely on is really up: Django behind daphne, and the receiver.
import { expect, test } from './fixtures'

test('the web server and the webhook receiver both answer', async ({ request, stack }) => {
  const health = await request.get(`${stack.receiver_url}/health`)
  expect(health.ok()).toBe(true)

  const admin = await request.get(`${stack.web_url}/admin/login/`)
  expect(admin.ok()).toBe(true)
  expect(await admin.text()).toContain('id_username')
})
