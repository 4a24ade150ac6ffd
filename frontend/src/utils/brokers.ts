// Rules about brokers the pages share.
import type { Broker } from '@/api/types'

export type BrokerMode = Pick<Broker, 'exchange' | 'is_testnet' | 'type_de_trading'>

/** Real money: neither the paper exchange nor the exchange's testnet. */
export function brokerIsLive(broker: Pick<Broker, 'exchange' | 'is_testnet'>): boolean {
  return broker.exchange.trim().toLowerCase() !== 'paper' && !broker.is_testnet
}

/** A broker whose alerts place real orders. */
export function brokerTradesLiveFromAlerts(broker: BrokerMode): boolean {
  return brokerIsLive(broker) && broker.type_de_trading === 'Webhooks'
}

/** A save that turns `next` into a live Webhooks broker when `previous` was not one asks first. */
export function liveSwitchNeedsConfirmation(previous: BrokerMode | null, next: BrokerMode): boolean {
  return brokerTradesLiveFromAlerts(next) && !(previous !== null && brokerTradesLiveFromAlerts(previous))
}
