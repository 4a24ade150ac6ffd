import { describe, expect, it } from 'vitest'
import { alertNeedsAttention, decimalText, percentText, pnlText, pnlTone, positiveIdFrom } from '@/utils/format'

describe('formatting', () => {
  it('groups decimal strings without losing digits', () => {
    expect(decimalText('40000')).toBe('40,000')
    expect(decimalText('0.124875')).toBe('0.124875')
    expect(decimalText('1234567.50000')).toBe('1,234,567.5')
    expect(decimalText('-12.5')).toBe('-12.5')
    expect(decimalText(null)).toBe('—')
    expect(decimalText('NaN')).toBe('NaN')
  })

  it('signs a P&L and picks its colour', () => {
    expect(pnlText('1234.5')).toBe('+1,234.50')
    expect(pnlText(-0.5)).toBe('-0.50')
    expect(pnlTone('0.01')).toBe('success')
    expect(pnlTone('-0.01')).toBe('danger')
    expect(pnlTone('0')).toBe('neutral')
    expect(pnlTone('oops')).toBe('neutral')
  })

  it('shows a success rate as a percentage', () => {
    expect(percentText(84.03)).toBe('84 %')
    expect(percentText('97.56')).toBe('97.6 %')
    expect(percentText(null)).toBe('—')
  })

  it('flags errors and missed bars', () => {
    expect(alertNeedsAttention({ status: 'error', action: 'BuyMarket' })).toBe(true)
    expect(alertNeedsAttention({ status: 'miss', action: 'MISS' })).toBe(true)
    expect(alertNeedsAttention({ status: 'processed', action: 'PING' })).toBe(false)
  })

  it('reads a positive id from the URL, else nothing', () => {
    expect(positiveIdFrom('12')).toBe(12)
    for (const value of [undefined, null, '', '0', '-3', '1.5', 'abc', ['12'], 12]) expect(positiveIdFrom(value)).toBe('')
  })
})
