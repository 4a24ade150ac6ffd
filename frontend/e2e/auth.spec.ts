// Signing in and out: the only door into the dashboard.
import { DEMO, expect, signIn, test } from './fixtures'

test('a signed-out visit is sent to the sign-in page, and back to the page asked for after it', async ({ page }) => {
  await page.goto('/positions')
  await expect(page).toHaveURL(/\/login\?next=(%2F|\/)positions$/)
  await expect(page.getByTestId('login-username')).toBeVisible()
  await expect(page.getByTestId('nav-webhooks')).toHaveCount(0)

  await page.getByTestId('login-username').fill(DEMO.username)
  await page.getByTestId('login-password').fill(DEMO.password)
  await page.getByTestId('login-submit').click()

  await expect(page).toHaveURL(/\/positions$/)
  await expect(page.getByTestId('current-user')).toHaveText(DEMO.username)
})

test('a trader signs in, stays signed in across a reload, and signs out', async ({ page }) => {
  await signIn(page)
  await expect(page).toHaveURL(/\/webhooks/)
  await expect(page.getByTestId('stat-card-alerts')).toBeVisible()

  await page.reload()
  await expect(page.getByTestId('current-user')).toHaveText(DEMO.username)

  await page.getByTestId('logout').click()
  await expect(page).toHaveURL(/\/login/)
  await expect(page.getByTestId('login-username')).toBeVisible()

  // Signed out on the server too: the dashboard sends the visit back to sign-in.
  await page.goto('/webhooks')
  await expect(page).toHaveURL(/\/login/)
  await expect(page.getByTestId('nav-webhooks')).toHaveCount(0)
})

test('a wrong password keeps the trader out, with a message', async ({ page }) => {
  await page.goto('/login')
  await page.getByTestId('login-username').fill(DEMO.username)
  await page.getByTestId('login-password').fill('not-the-password')
  await page.getByTestId('login-submit').click()

  await expect(page.getByTestId('login-error')).toBeVisible()
  await expect(page).toHaveURL(/\/login/)
  await expect(page.getByTestId('nav-webhooks')).toHaveCount(0)
})
